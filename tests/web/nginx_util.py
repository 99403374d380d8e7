"""A throwaway nginx reverse proxy for tests: Debian's ``/usr/sbin/nginx`` in a temp dir.

Everything nginx writes (pid, logs, temp files) stays in the given directory; it runs in the
foreground (``daemon off``) as a child of the test process and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["NGINX", "Nginx", "find_nginx", "free_port"]

NGINX = "/usr/sbin/nginx"

# The client's own Forwarded header (if any) is kept and nginx's hop appended, as RFC 7239
# §4 asks of proxies; $http_host keeps the port of the Host header ($host would drop it).
# $remote_addr is quoted: fine for IPv4; an IPv6 listener would need "[$remote_addr]".
_FORWARDED = '"${forwarded_prefix}for=\\"$remote_addr\\";proto=$scheme;host=\\"$http_host\\""'
_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 64;
}}

http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
{extra_temp}
    map $http_forwarded $forwarded_prefix {{
        ""      "";
        default "$http_forwarded, ";
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name _;

        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header Forwarded {forwarded};
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary: Debian's path, else one on PATH; None when there is none."""
    if os.access(NGINX, os.X_OK):
        return NGINX
    return shutil.which("nginx")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _extra_temp_paths(binary: str, directory: Path) -> str:
    """Temp paths of the modules this build has (an unknown directive stops nginx)."""
    configure = subprocess.run(
        [binary, "-V"], capture_output=True, text=True, check=False, timeout=10
    ).stderr
    lines = []
    for module in ("fastcgi", "uwsgi", "scgi"):
        if f"--without-http_{module}_module" not in configure:
            lines.append(f"    {module}_temp_path {directory}/{module};")
    return "\n".join(lines) + "\n"


class Nginx:
    """nginx proxying ``127.0.0.1:<port>`` to ``127.0.0.1:<upstream>``; `start`, then `stop`."""

    def __init__(self, binary: str, directory: Path, upstream: int) -> None:
        self.binary = binary
        self.directory = directory
        self.upstream = upstream
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        """nginx's error log and whatever it printed to stderr."""
        texts = []
        for name in ("stderr.log", "error.log"):
            path = self.directory / name
            if path.exists():
                texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)

    def start(self, timeout: float = 10.0) -> None:
        """Start nginx and wait until it accepts connections (a few tries if a port is taken).

        Raises:
            RuntimeError: nginx exited or did not listen in time (its error log attached).
        """
        extra = _extra_temp_paths(self.binary, self.directory)
        for _attempt in range(3):
            self.port = free_port()
            conf = self.directory / "nginx.conf"
            conf.write_text(
                _CONFIG.format(
                    dir=self.directory,
                    port=self.port,
                    upstream=self.upstream,
                    extra_temp=extra,
                    forwarded=_FORWARDED,
                )
            )
            argv = [self.binary, "-p", str(self.directory), "-c", str(conf)]
            argv[1:1] = ["-e", str(self.directory / "error.log")]  # early errors too (1.19.5+)
            with open(self.directory / "stderr.log", "ab") as stderr:
                self.process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
                )
            if self._wait_listening(timeout):
                return
            log = self.error_log()
            self.stop()
            if "Address already in use" not in log:
                raise RuntimeError(f"nginx did not start:\n{log}")
        raise RuntimeError(f"nginx could not bind a free port:\n{self.error_log()}")

    def _wait_listening(self, timeout: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.01)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Graceful shutdown (SIGQUIT), then SIGKILL if nginx lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)

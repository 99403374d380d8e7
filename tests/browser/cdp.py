"""A small Chrome DevTools Protocol driver for the browser tests (stdlib + ``websockets``).

``Browser`` launches a headless Chromium with a fresh profile and, on exit, kills its whole
process group and removes the profile. ``Browser.new_page()`` opens a tab and returns a `Page`
with its own DevTools websocket:

- ``page.goto(url)`` navigates and waits for the load event;
- ``page.evaluate(expression)`` runs JavaScript (promises awaited) and returns the value;
- ``page.wait_for(expression)`` polls until the expression is truthy;
- ``page.console_messages()`` / ``page.errors()``: what the page logged / threw uncaught;
- ``page.navigations``: how many documents the main frame committed since the page opened,
  so a test can prove that something did (or did not) reload the page;
- ``page.send(method, **params)``: any other CDP command.

Each websocket has a reader thread: responses are matched to requests by id, events are kept
in order in a log that the waits above scan.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

__all__ = [
    "DEFAULT_CHROMIUM",
    "Browser",
    "CDPError",
    "JavaScriptError",
    "Page",
    "find_chromium",
]

DEFAULT_CHROMIUM = "/usr/bin/chromium"
DEFAULT_TIMEOUT = 10.0

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-port=0",
)

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

# Chromium's helpers outlive it by a moment (zygotes) or detach (crashpad handler). Orphans go
# to PID 1, which in a container may never reap them: zombies. So Chromium runs under this small
# Python process, a child subreaper (Linux), which reaps every descendant and exits with
# Chromium's status once none is left. SIGTERM (or its parent's death) makes it stop Chromium;
# whatever is still alive after a grace period gets SIGKILL.
_REAPER = """
import ctypes, os, signal, sys, time
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
except (OSError, AttributeError):
    pass
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
parent = os.getppid()
chromium = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)
status = 1
kill_at = None

def children():
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me:
                yield int(name)

while True:
    try:
        pid, wait_status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == chromium:
        status = os.waitstatus_to_exitcode(wait_status)
        chromium = None
    if pid:
        continue
    if not stop and os.getppid() != parent:
        stop.append(True)
    if chromium is None or stop:
        if kill_at is None:
            kill_at = time.monotonic() + 3
            if chromium is not None:
                os.kill(chromium, signal.SIGTERM)
        elif time.monotonic() > kill_at:
            for pid in children():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    time.sleep(0.02)
sys.exit(status if status >= 0 else 128 - status)
"""

Event = dict[str, Any]


def find_chromium() -> str | None:
    """The Chromium to drive: ``$WEBKIT_CHROMIUM`` or /usr/bin/chromium, if executable."""
    path = os.environ.get("WEBKIT_CHROMIUM") or DEFAULT_CHROMIUM
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


class CDPError(RuntimeError):
    """A CDP command failed, or the DevTools connection closed under it."""

    def __init__(self, message: str, *, method: str = "", code: int | None = None) -> None:
        super().__init__(f"{method}: {message}" if method else message)
        self.method = method
        self.code = code


class JavaScriptError(CDPError):
    """The evaluated JavaScript threw; ``text`` is the exception as the console shows it."""

    def __init__(self, text: str) -> None:
        super().__init__(text, method="Runtime.evaluate")
        self.text = text


def _connect_kwargs() -> dict[str, Any]:
    """Options for ``websockets.sync.client.connect``, limited to what this version knows."""
    wanted: dict[str, Any] = {
        "max_size": None,  # DOM snapshots and screenshots are big
        "compression": None,
        "ping_interval": None,  # a test's own timeouts notice a dead browser
        "proxy": None,  # 127.0.0.1, never through an http(s)_proxy from the environment
    }
    known = inspect.signature(connect).parameters
    return {name: value for name, value in wanted.items() if name in known}


class _Connection:
    """One DevTools websocket: requests by id, events logged in arrival order."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        # Entered as a context manager: websockets 17 deprecates using connect() bare.
        self._stack = contextlib.ExitStack()
        self._ws: ClientConnection = self._stack.enter_context(
            connect(url, open_timeout=timeout, **_connect_kwargs())
        )
        self._cond = threading.Condition()
        self._next_id = 0
        self._pending: set[int] = set()
        self._responses: dict[int, dict[str, Any]] = {}
        self._events: list[Event] = []
        self._closed: str | None = None
        self._reader = threading.Thread(target=self._read, name=f"cdp-reader {url}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        reason = "the DevTools connection closed"
        try:
            for raw in self._ws:
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        if message["id"] in self._pending:  # else its sender gave up
                            self._responses[message["id"]] = message
                    else:
                        self._events.append(message)
                    self._cond.notify_all()
        except ConnectionClosed as exc:
            reason = f"the DevTools connection closed: {exc}"
        except Exception as exc:  # a bad frame must not hang every waiter until its timeout
            reason = f"the DevTools reader failed: {exc!r}"
        finally:
            with self._cond:
                self._closed = reason
                self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        with self._cond:
            if self._closed is not None:
                raise CDPError(self._closed, method=method)
            self._next_id += 1
            message_id = self._next_id
            self._pending.add(message_id)
        payload = json.dumps({"id": message_id, "method": method, "params": params})
        try:
            self._ws.send(payload)
        except ConnectionClosed as exc:
            with self._cond:
                self._pending.discard(message_id)
            raise CDPError(f"the DevTools connection closed: {exc}", method=method) from exc
        with self._cond:
            done = self._cond.wait_for(
                lambda: message_id in self._responses or self._closed is not None, timeout
            )
            response = self._responses.pop(message_id, None)
            self._pending.discard(message_id)
            if response is None:
                if not done:
                    raise TimeoutError(f"{method}: no answer from the browser in {timeout} s")
                raise CDPError(self._closed or "closed", method=method)
        if "error" in response:
            error = response["error"]
            message = str(error.get("message", error))
            if error.get("data"):
                message += f" ({error['data']})"
            raise CDPError(message, method=method, code=error.get("code"))
        result: dict[str, Any] = response.get("result", {})
        return result

    def events(self) -> list[Event]:
        with self._cond:
            return list(self._events)

    def wait_event(
        self, match: Callable[[Event], bool], *, start: int, timeout: float, what: str
    ) -> int:
        """Wait for an event at log index ``start`` or later that ``match``es; its index."""
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self._events):
                    if match(self._events[index]):
                        return index
                    index += 1
                if self._closed is not None:
                    raise CDPError(f"{self._closed} while waiting for {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {what} within {timeout} s")
                self._cond.wait(remaining)

    def event_count(self) -> int:
        with self._cond:
            return len(self._events)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        self._reader.join(timeout=5)


def _is_main_frame_navigation(event: Event) -> bool:
    if event.get("method") != "Page.frameNavigated":
        return False
    frame = event.get("params", {}).get("frame", {})
    return "parentId" not in frame


def _is_load(event: Event) -> bool:
    return event.get("method") == "Page.loadEventFired"


def _js_value(remote: dict[str, Any]) -> Any:
    """A by-value CDP RemoteObject as Python (``undefined`` → None, NaN/±Infinity → float)."""
    if "value" in remote:
        return remote["value"]
    special = remote.get("unserializableValue")
    if special is None:
        return None
    if special.endswith("n"):  # BigInt
        return int(special[:-1])
    if special == "-0":
        return -0.0
    return float(special)  # "NaN", "Infinity", "-Infinity"


def _console_text(remote: dict[str, Any]) -> str:
    """One console argument the way the console prints it, roughly."""
    if "value" in remote:
        value = remote["value"]
        if isinstance(value, str):
            return value
        if isinstance(value, float) and value.is_integer() and not math.isinf(value):
            return str(int(value))
        return json.dumps(value)  # true/false/null, numbers, objects
    if "unserializableValue" in remote:
        return str(remote["unserializableValue"])
    if "description" in remote:
        return str(remote["description"])
    return str(remote.get("type", "undefined"))


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception")
    if exception:
        return str(exception.get("description") or _console_text(exception))
    return str(details.get("text") or "JavaScript exception")


class Page:
    """A browser tab over its own DevTools websocket (Page and Runtime domains enabled)."""

    def __init__(self, browser: Browser, target_id: str, ws_url: str) -> None:
        self.browser = browser
        self.target_id = target_id
        self.ws_url = ws_url
        self._conn = _Connection(ws_url)
        self._closed = False
        self.send("Page.enable")
        self.send("Runtime.enable")

    # -- protocol -----------------------------------------------------------------------------

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        /,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Send a CDP command to this page and return its result.

        Parameters go as keywords; a CDP parameter that clashes with ``timeout`` (this call's
        own deadline) goes in the ``params`` dict. Raises `CDPError` on a protocol error,
        ``TimeoutError`` without an answer.
        """
        return self._conn.send(method, {**(params or {}), **kwargs}, timeout)

    def events(self, method: str | None = None) -> list[Event]:
        """The CDP events received so far (of ``method`` only, if given), oldest first."""
        events = self._conn.events()
        return [e for e in events if method is None or e.get("method") == method]

    # -- navigation ---------------------------------------------------------------------------

    @property
    def navigations(self) -> int:
        """Documents committed in the main frame since the page opened (reloads count)."""
        return sum(1 for e in self._conn.events() if _is_main_frame_navigation(e))

    def goto(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Navigate to ``url`` and wait for its load event."""
        start = self._conn.event_count()
        result = self.send("Page.navigate", url=url, timeout=timeout)
        if result.get("errorText"):
            raise CDPError(f"{url}: {result['errorText']}", method="Page.navigate")
        if "loaderId" not in result:
            return  # same-document navigation (a fragment): no load event comes
        self._conn.wait_event(_is_load, start=start, timeout=timeout, what=f"load of {url}")

    def wait_for_navigation(self, previous: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until ``navigations`` exceeds ``previous`` and the new document has loaded."""
        seen = 0
        index = 0
        while seen <= previous:
            index = self._conn.wait_event(
                _is_main_frame_navigation,
                start=index,
                timeout=timeout,
                what=f"main-frame navigation #{previous + 1}",
            )
            seen += 1
            index += 1
        self._conn.wait_event(
            _is_load, start=index, timeout=timeout, what=f"load after navigation #{seen}"
        )

    # -- JavaScript ---------------------------------------------------------------------------

    def evaluate(self, expression: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Evaluate ``expression`` in the page (awaiting a promise) and return its value.

        JSON-able values come back as Python; ``undefined`` and DOM nodes as None. Raises
        `JavaScriptError` with the exception's text if it throws.
        """
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
            userGesture=True,
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise JavaScriptError(_exception_text(result["exceptionDetails"]))
        return _js_value(result.get("result", {}))

    def wait_for(
        self, expression: str, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.05
    ) -> Any:
        """Evaluate ``expression`` every ``interval`` s until truthy, and return that value.

        A throw (e.g. the element is not there yet) or an evaluation lost to a navigation
        counts as not yet. On timeout raises AssertionError with the last value or error.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                value = self.evaluate(expression, timeout=max(remaining, 1.0))
            except (CDPError, TimeoutError) as exc:
                if self._conn_closed():
                    raise
                last = exc
            else:
                if value:
                    return value
                last = value
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"wait_for({expression!r}) still falsy after {timeout} s; last: {last!r}"
                )
            time.sleep(interval)

    def _conn_closed(self) -> bool:
        return self._conn._closed is not None

    # -- what the page reported ---------------------------------------------------------------

    def console_messages(self, *types: str) -> list[str]:
        """Console API calls since the page opened, each as its arguments joined by spaces.

        ``types`` ("log", "error", "warning"...) keeps only those.
        """
        messages = []
        for event in self.events("Runtime.consoleAPICalled"):
            params = event.get("params", {})
            if types and params.get("type") not in types:
                continue
            messages.append(" ".join(_console_text(arg) for arg in params.get("args", [])))
        return messages

    def errors(self) -> list[str]:
        """Uncaught exceptions and unhandled rejections the page reported."""
        return [
            _exception_text(event.get("params", {}).get("exceptionDetails", {}))
            for event in self.events("Runtime.exceptionThrown")
        ]

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the tab and its websocket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.browser._forget(self)
        with contextlib.suppress(CDPError, TimeoutError):
            self.browser.send("Target.closeTarget", targetId=self.target_id, timeout=5)
        self._conn.close()

    def __enter__(self) -> Page:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Browser:
    """A headless Chromium with a throwaway profile; use as a context manager.

    ``executable`` defaults to `find_chromium`'s; ``args`` adds command-line switches.
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        args: Iterable[str] = (),
        timeout: float = 20.0,
    ) -> None:
        self.executable = executable or os.environ.get("WEBKIT_CHROMIUM") or DEFAULT_CHROMIUM
        self.args = list(args)
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.ws_url = ""
        self.host = "127.0.0.1"
        self.port = 0
        self._profile: str | None = None
        self._stderr: deque[str] = deque(maxlen=200)
        self._stderr_thread: threading.Thread | None = None
        self._conn: _Connection | None = None
        self._pages: list[Page] = []

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> Browser:
        if self.process is not None:
            return self
        self._profile = tempfile.mkdtemp(prefix="webkit-chromium-")
        argv = [
            self.executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self._profile}",
            *self.args,
            "about:blank",
        ]
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _REAPER, *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError:
            self._remove_profile()
            raise
        try:
            self.ws_url = self._wait_listening()
            match = re.match(r"ws://([^/]+):(\d+)/", self.ws_url)
            assert match is not None, self.ws_url
            self.host, self.port = match.group(1), int(match.group(2))
            self._conn = _Connection(self.ws_url)
        except BaseException:
            self.close()
            raise
        return self

    def _wait_listening(self) -> str:
        """Drain stderr in a thread (for good: a full pipe would block Chromium) until the
        DevTools banner shows; its websocket URL."""
        assert self.process is not None
        stderr = self.process.stderr
        assert stderr is not None
        found: list[str] = []
        ready = threading.Event()
        eof = threading.Event()

        def drain() -> None:
            try:
                for raw in stderr:
                    line = raw.decode("utf-8", "replace").rstrip()
                    self._stderr.append(line)
                    match = _LISTENING.search(line)
                    if match and not found:
                        found.append(match.group(1))
                        ready.set()
            except (OSError, ValueError):
                pass  # the pipe was closed by close()
            finally:
                eof.set()
                ready.set()

        self._stderr_thread = threading.Thread(target=drain, name="chromium-stderr", daemon=True)
        self._stderr_thread.start()
        ready.wait(self.timeout)
        if found:
            return found[0]
        status = None
        if eof.is_set():  # Chromium is exiting
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = self.process.wait(timeout=2)
        if status is not None:
            why = f"exited with status {status}"
        elif eof.is_set():
            why = "closed its stderr without a 'DevTools listening on ws://...' line"
        else:
            why = f"did not report 'DevTools listening on ws://...' within {self.timeout} s"
        raise RuntimeError(f"{self.executable} {why}; its stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        """The last lines Chromium wrote to stderr."""
        return "\n".join(self._stderr)

    def close(self) -> None:
        """Close the pages, stop Chromium and every process it started, remove the profile."""
        for page in list(self._pages):
            with contextlib.suppress(Exception):
                page.close()
        process, self.process = self.process, None
        if self._conn is not None:
            if process is not None and process.poll() is None:
                # Asked to quit, Chromium ends its helpers itself (the reaper waits for them).
                with contextlib.suppress(CDPError, TimeoutError):
                    self._conn.send("Browser.close", {}, 5.0)
            self._conn.close()
            self._conn = None
        if process is not None:
            # The reaper's group: the reaper, Chromium and the helpers that stayed in it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=5)
            self._stderr_thread = None
        if process is not None and process.stderr is not None:
            process.stderr.close()
        self._remove_profile()

    def _remove_profile(self) -> None:
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- targets ------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        /,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Send a CDP command over the browser's own websocket (Target.*, Browser.*...)."""
        if self._conn is None:
            raise CDPError("the browser is not running", method=method)
        return self._conn.send(method, {**(params or {}), **kwargs}, timeout)

    def new_page(self) -> Page:
        """Open a blank tab; close it with ``page.close()`` (or use it as a context manager)."""
        target_id = str(self.send("Target.createTarget", url="about:blank")["targetId"])
        try:
            page = Page(self, target_id, f"ws://{self.host}:{self.port}/devtools/page/{target_id}")
        except BaseException:
            with contextlib.suppress(CDPError, TimeoutError):
                self.send("Target.closeTarget", targetId=target_id, timeout=5)
            raise
        self._pages.append(page)
        return page

    def _forget(self, page: Page) -> None:
        with contextlib.suppress(ValueError):
            self._pages.remove(page)

"""Name the process listening on a TCP port, for "address already in use" messages.

Best effort and quiet: `port_holder` never raises and returns None whenever the system does not
tell (another user's process, no procfs and no ``lsof``, an unsupported platform).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["port_holder"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in the kernel's st column
_LSOF_TIMEOUT = 1.0


def port_holder(port: int, host: str = "") -> str | None:
    """Describe the process listening on TCP ``port``, e.g. ``"python3 (pid 1234)"``.

    ``host`` narrows the search to listeners that would clash with binding that address: a
    listener on the wildcard address (``0.0.0.0``, ``::``) always matches, and an empty host, a
    wildcard host or a host name (not resolved, to stay fast and offline) matches any listener.
    """
    if not 0 < port < 65536:
        return None
    wanted = _wanted_addresses(host)
    try:
        sockets = _listening_sockets(port, wanted)
    except OSError:  # no /proc/net: not Linux, or procfs hidden
        return _from_lsof(port, wanted)
    if not sockets:
        return None
    try:
        return _process_holding(sockets)
    except OSError:
        return None


def _wanted_addresses(host: str) -> frozenset[IPAddress] | None:
    """The addresses to match, or None for any."""
    if host == "localhost":
        return frozenset({ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")})
    try:
        # The kernel's table has no scope ids, and IPv6Address equality compares them.
        address = _plain(ipaddress.ip_address(host.strip("[]").partition("%")[0]))
    except ValueError:
        return None
    return None if address.is_unspecified else frozenset({address})


def _plain(address: IPAddress) -> IPAddress:
    # A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; compare them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _matches(address: IPAddress, wanted: frozenset[IPAddress] | None) -> bool:
    return wanted is None or address.is_unspecified or address in wanted


def _listening_sockets(port: int, wanted: frozenset[IPAddress] | None) -> dict[int, int]:
    """Inode -> owner uid of the LISTEN sockets on ``port``, from /proc/net/tcp and tcp6.

    Raises OSError when neither table can be read.
    """
    found: dict[int, int] = {}
    readable = False
    for table in ("tcp", "tcp6"):
        try:
            text = (_PROC / "net" / table).read_text()
        except OSError:
            continue  # tcp6 is absent when IPv6 is disabled
        readable = True
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            address, _, port_hex = fields[1].partition(":")
            try:
                if int(port_hex, 16) != port or not _matches(_decode(address), wanted):
                    continue
                inode, uid = int(fields[9]), int(fields[7])
            except ValueError:
                continue
            if inode:
                found[inode] = uid
    if not readable:
        raise OSError("no /proc/net/tcp")
    return found


def _decode(hex_address: str) -> IPAddress:
    raw = bytes.fromhex(hex_address)
    # The kernel prints the address as 32-bit words in host byte order.
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return _plain(ipaddress.ip_address(raw))


def _process_holding(sockets: dict[int, int]) -> str | None:
    targets = {f"socket:[{inode}]" for inode in sockets}
    owners = set(sockets.values())
    for pid in _by_owner(_pids(), owners):
        try:
            with os.scandir(_PROC / str(pid) / "fd") as entries:
                for entry in entries:
                    if os.readlink(entry.path) in targets:
                        return _describe(pid)
        except OSError:  # another user's process (EACCES), or one that has just exited
            continue
    return None


def _pids() -> list[int]:
    return [int(name) for name in os.listdir(_PROC) if name.isdigit()]


def _by_owner(pids: Iterable[int], owners: set[int]) -> list[int]:
    """The processes of the sockets' owners first: the holder is nearly always among them, and
    root would otherwise read every fd of every process before reaching it.
    """

    def foreign(pid: int) -> bool:
        try:
            return (_PROC / str(pid)).stat().st_uid not in owners
        except OSError:
            return True

    return sorted(pids, key=foreign)


def _describe(pid: int) -> str:
    try:
        name = (_PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        name = ""
    return f"{name} (pid {pid})" if name else f"pid {pid}"


def _from_lsof(port: int, wanted: frozenset[IPAddress] | None) -> str | None:
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    try:
        completed = subprocess.run(
            [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpcn"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_LSOF_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return _parse_lsof(completed.stdout, wanted)


def _parse_lsof(output: str, wanted: frozenset[IPAddress] | None) -> str | None:
    """Read ``lsof -F pcn`` output: a ``p`` line opens each process, ``c`` names it, and an ``n``
    line per file gives the listening address (``*:8000``, ``127.0.0.1:8000``, ``[::1]:8000``).
    """
    pid: int | None = None
    command = ""
    for line in output.splitlines():
        tag, value = line[:1], line[1:]
        if tag == "p":
            try:
                pid = int(value)
            except ValueError:
                pid = None
            command = ""
        elif tag == "c":
            command = value
        elif tag == "n" and pid is not None and _lsof_name_matches(value, wanted):
            return f"{command} (pid {pid})" if command else f"pid {pid}"
    return None


def _lsof_name_matches(name: str, wanted: frozenset[IPAddress] | None) -> bool:
    host = name.rpartition(":")[0].strip("[]")
    if wanted is None or host == "*":
        return True
    try:
        return _matches(_plain(ipaddress.ip_address(host.partition("%")[0])), wanted)
    except ValueError:
        return True  # a form we do not know: better a likely name than none

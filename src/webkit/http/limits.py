"""Limits that bound what one connection may cost the server."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits; every field has a safe default.

    Attributes:
        max_line_size: longest request target (the URL of the request line) in bytes
            (longer: 414); llhttp bounds the method and version itself.
        max_field_size: longest header field, name plus value, in bytes (longer: 431).
        max_headers: most header fields in one request (more: 431).
        keepalive_timeout: seconds an idle keep-alive connection is kept open.
        head_timeout: seconds allowed from a request's first byte to the end of its head; a peer
            that dribbles its head (slowloris) is answered 408 and dropped.
        read_high_water: buffered request-body bytes at which reading from the socket pauses.
        read_low_water: buffered bytes at which reading resumes.
        max_pipelined: requests parsed ahead of the one being handled before reading pauses.
        timeout_ceil_threshold: timeouts of at least this many seconds are rounded up to the
            next whole second, so that many connections share timer wake-ups.
    """

    max_line_size: int = 8190
    max_field_size: int = 8190
    max_headers: int = 100
    keepalive_timeout: float = 75.0
    head_timeout: float = 20.0
    read_high_water: int = 256 * 1024
    read_low_water: int = 64 * 1024
    max_pipelined: int = 16
    timeout_ceil_threshold: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_line_size", "max_field_size", "max_headers", "max_pipelined"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1, got {getattr(self, name)!r}")
        if self.read_low_water > self.read_high_water:
            raise ValueError(
                f"Limits.read_low_water ({self.read_low_water}) must not exceed "
                f"read_high_water ({self.read_high_water})"
            )

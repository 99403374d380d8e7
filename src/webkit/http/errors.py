"""Protocol errors: a malformed or unacceptable request, answered before any handler runs."""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 framing or a configured limit.

    The connection answers ``status`` with ``reason`` as a short plain-text body and then closes,
    because after a framing error nothing that follows on the stream can be trusted
    (RFC 9112 §2.2, §11.2).
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason

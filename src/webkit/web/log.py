"""Access logging in Apache's format language (combined log format by default)."""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from webkit.abc import AbstractAccessLogger

if TYPE_CHECKING:
    from webkit.web.request import BaseRequest
    from webkit.web.response import StreamResponse

__all__ = ["AbstractAccessLogger", "AccessLogger", "access_logger"]

access_logger = logging.getLogger("webkit.access")
server_logger = logging.getLogger("webkit.server")
web_logger = logging.getLogger("webkit.web")

_Field = Callable[["BaseRequest", "StreamResponse", float], str]


class AccessLogger(AbstractAccessLogger):
    """Formats with Apache directives: ``%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"``.

    Supported: ``%a`` remote address, ``%t`` time, ``%P`` pid, ``%r`` request line, ``%s``
    status, ``%b`` response body bytes, ``%T`` seconds, ``%Tf`` seconds with fraction, ``%D``
    microseconds, ``%{NAME}i`` request header, ``%{NAME}o`` response header, ``%%``.
    """

    LOG_FORMAT = '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"'
    _DIRECTIVE = re.compile(r"%(\{([A-Za-z0-9\-_]+)\}([io])|Tf|[atPrsbTD%])")

    def __init__(self, logger: logging.Logger, log_format: str = LOG_FORMAT) -> None:
        super().__init__(logger, log_format)
        self._template, self._fields = self._compile(log_format)

    def _compile(self, log_format: str) -> tuple[str, list[_Field]]:
        fields: list[_Field] = []

        def replace(match: re.Match[str]) -> str:
            directive = match.group(1)
            if directive == "%":
                return "%%"
            if match.group(2):
                name, where = match.group(2), match.group(3)
                if where == "i":
                    fields.append(lambda rq, rs, t: rq.headers.get(name, "-"))
                else:
                    fields.append(lambda rq, rs, t: rs.headers.get(name, "-"))
            else:
                fields.append(_SIMPLE[directive])
            return "%s"

        template = self._DIRECTIVE.sub(replace, log_format.replace("%%", "\0"))
        return template.replace("\0", "%%"), fields

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        try:
            values = tuple(field(request, response, time) for field in self._fields)
            self.logger.info(self._template, *values)
        except Exception:
            self.logger.exception("Error in logging")


def _request_line(request: BaseRequest) -> str:
    version = request.version
    return f"{request.method} {request.raw_path} HTTP/{version[0]}.{version[1]}"


def _now(*_: Any) -> str:
    now = datetime.datetime.now(datetime.UTC).astimezone()
    return now.strftime("[%d/%b/%Y:%H:%M:%S %z]")


_SIMPLE: dict[str, _Field] = {
    "a": lambda rq, rs, t: rq.remote or "-",
    "t": _now,
    "P": lambda rq, rs, t: f"<{os.getpid()}>",
    "r": lambda rq, rs, t: _request_line(rq),
    "s": lambda rq, rs, t: str(rs.status),
    "b": lambda rq, rs, t: str(rs.body_length),
    "T": lambda rq, rs, t: str(round(t)),
    "Tf": lambda rq, rs, t: f"{t:.6f}",
    "D": lambda rq, rs, t: str(round(t * 1_000_000)),
}

"""webkit's HTTP/1.1 server: connections, parsing, limits and response writing.

This layer knows nothing of the framework above it: it hands each request to a handler as an
`Exchange` and lets the handler answer through it.
"""

from webkit.http.body import EMPTY_BODY, BodyStream
from webkit.http.errors import ProtocolError
from webkit.http.exchange import Exchange, HttpVersion, HttpVersion10, HttpVersion11, RequestHandler
from webkit.http.limits import Limits
from webkit.http.protocol import HttpConnection
from webkit.http.server import HttpServer
from webkit.http.writer import SERVER_SOFTWARE, encode_head, http_date, reason_phrase, status_line

__all__ = [
    "EMPTY_BODY",
    "SERVER_SOFTWARE",
    "BodyStream",
    "Exchange",
    "HttpConnection",
    "HttpServer",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "Limits",
    "ProtocolError",
    "RequestHandler",
    "encode_head",
    "http_date",
    "reason_phrase",
    "status_line",
]

"""The HTTPException tree: raise one from a handler or middleware to answer with its status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from multidict import CIMultiDict
from yarl import URL

from webkit.http import reason_phrase

__all__ = [
    "HTTPAccepted",
    "HTTPBadGateway",
    "HTTPBadRequest",
    "HTTPClientError",
    "HTTPConflict",
    "HTTPCreated",
    "HTTPError",
    "HTTPException",
    "HTTPExpectationFailed",
    "HTTPFailedDependency",
    "HTTPForbidden",
    "HTTPFound",
    "HTTPGatewayTimeout",
    "HTTPGone",
    "HTTPInsufficientStorage",
    "HTTPInternalServerError",
    "HTTPLengthRequired",
    "HTTPMethodNotAllowed",
    "HTTPMisdirectedRequest",
    "HTTPMove",
    "HTTPMovedPermanently",
    "HTTPMultipleChoices",
    "HTTPNetworkAuthenticationRequired",
    "HTTPNoContent",
    "HTTPNonAuthoritativeInformation",
    "HTTPNotAcceptable",
    "HTTPNotExtended",
    "HTTPNotFound",
    "HTTPNotImplemented",
    "HTTPNotModified",
    "HTTPOk",
    "HTTPPartialContent",
    "HTTPPaymentRequired",
    "HTTPPermanentRedirect",
    "HTTPPreconditionFailed",
    "HTTPPreconditionRequired",
    "HTTPProxyAuthenticationRequired",
    "HTTPRedirection",
    "HTTPRequestEntityTooLarge",
    "HTTPRequestHeaderFieldsTooLarge",
    "HTTPRequestRangeNotSatisfiable",
    "HTTPRequestTimeout",
    "HTTPRequestURITooLong",
    "HTTPResetContent",
    "HTTPSeeOther",
    "HTTPServerError",
    "HTTPServiceUnavailable",
    "HTTPSuccessful",
    "HTTPTemporaryRedirect",
    "HTTPTooManyRequests",
    "HTTPUnauthorized",
    "HTTPUnavailableForLegalReasons",
    "HTTPUnprocessableEntity",
    "HTTPUnsupportedMediaType",
    "HTTPUpgradeRequired",
    "HTTPUseProxy",
    "HTTPVariantAlsoNegotiates",
    "HTTPVersionNotSupported",
]


class HTTPException(Exception):
    """An HTTP answer raised as an exception.

    ``status_code`` is set by each subclass. The default body is ``"<status>: <reason>"`` as
    plain text; ``text=`` or ``body=`` replace it.

    Args:
        headers: extra response headers.
        reason: a reason phrase other than the standard one.
        text: the body as text, sent as UTF-8 (``content_type`` defaults to ``text/plain``).
        body: the body as bytes.
        content_type: the body's media type, without a charset.

    Raises:
        ValueError: both ``body`` and ``text``, or a charset in ``content_type``.
    """

    status_code = -1
    empty_body = False

    __http_exception__ = True

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        reason: str | None = None,
        body: bytes | None = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if body is not None and text is not None:
            raise ValueError("pass body or text, not both")
        if content_type is not None and "charset" in content_type.lower():
            # As aiohttp (whose exceptions are Responses): text is sent as UTF-8.
            raise ValueError("charset must not be in content_type argument")
        self._status = self.status_code
        self._reason = reason if reason is not None else reason_phrase(self.status_code)
        self._headers: CIMultiDict[str] = CIMultiDict(headers or ())
        if body is None and text is None and not self.empty_body:
            text = f"{self.status_code}: {self._reason}"
        self._text = text
        self._body = body
        self._content_type = content_type
        Exception.__init__(self, self._reason)

    def __str__(self) -> str:
        return self._reason

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._reason}>"

    @property
    def status(self) -> int:
        return self._status

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def text(self) -> str | None:
        if self._text is not None:
            return self._text
        return None if self._body is None else self._body.decode("utf-8", "replace")

    @property
    def body(self) -> bytes | None:
        if self._body is not None:
            return self._body
        return None if self._text is None else self._text.encode("utf-8")

    @property
    def content_type(self) -> str | None:
        if self._content_type is not None:
            return self._content_type
        if self._text is not None:
            return "text/plain"
        return None

    @property
    def headers(self) -> CIMultiDict[str]:
        return self._headers


class HTTPError(HTTPException):
    """Base class for 4xx and 5xx answers."""


class HTTPRedirection(HTTPException):
    """Base class for 3xx answers."""


class HTTPSuccessful(HTTPException):
    """Base class for 2xx answers."""


class HTTPOk(HTTPSuccessful):
    status_code = 200


class HTTPCreated(HTTPSuccessful):
    status_code = 201


class HTTPAccepted(HTTPSuccessful):
    status_code = 202


class HTTPNonAuthoritativeInformation(HTTPSuccessful):
    status_code = 203


class HTTPNoContent(HTTPSuccessful):
    status_code = 204
    empty_body = True


class HTTPResetContent(HTTPSuccessful):
    status_code = 205
    empty_body = True


class HTTPPartialContent(HTTPSuccessful):
    status_code = 206


class HTTPMove(HTTPRedirection):
    """A redirection that carries a ``Location`` (percent-encoded on the wire).

    Raises:
        ValueError: ``location`` is empty.
    """

    def __init__(self, location: str | URL, **kwargs: Any) -> None:
        if not location:
            raise ValueError("HTTP redirects need a location to redirect to")
        super().__init__(**kwargs)
        self._location = location
        # A header value is ASCII: ``/café`` is sent as ``/caf%C3%A9`` (RFC 3986 §2.1).
        self.headers["Location"] = str(URL(location))

    @property
    def location(self) -> str | URL:
        """The location as it was given (aiohttp keeps it unchanged too)."""
        return self._location


class HTTPMultipleChoices(HTTPMove):
    status_code = 300


class HTTPMovedPermanently(HTTPMove):
    status_code = 301


class HTTPFound(HTTPMove):
    status_code = 302


class HTTPSeeOther(HTTPMove):
    status_code = 303


class HTTPNotModified(HTTPRedirection):
    status_code = 304
    empty_body = True


class HTTPUseProxy(HTTPMove):
    status_code = 305


class HTTPTemporaryRedirect(HTTPMove):
    status_code = 307


class HTTPPermanentRedirect(HTTPMove):
    status_code = 308


class HTTPClientError(HTTPError):
    """Base class for 4xx answers."""


class HTTPBadRequest(HTTPClientError):
    status_code = 400


class HTTPUnauthorized(HTTPClientError):
    status_code = 401


class HTTPPaymentRequired(HTTPClientError):
    status_code = 402


class HTTPForbidden(HTTPClientError):
    status_code = 403


class HTTPNotFound(HTTPClientError):
    status_code = 404


class HTTPMethodNotAllowed(HTTPClientError):
    """405, carrying the ``Allow`` header (RFC 9110 §15.5.6)."""

    status_code = 405

    def __init__(self, method: str, allowed_methods: Iterable[str], **kwargs: Any) -> None:
        allowed = sorted(set(allowed_methods))
        super().__init__(**kwargs)
        self.headers["Allow"] = ", ".join(allowed)
        self._method = method
        self._allowed = set(allowed)

    @property
    def method(self) -> str:
        return self._method

    @property
    def allowed_methods(self) -> set[str]:
        return self._allowed


class HTTPNotAcceptable(HTTPClientError):
    status_code = 406


class HTTPProxyAuthenticationRequired(HTTPClientError):
    status_code = 407


class HTTPRequestTimeout(HTTPClientError):
    status_code = 408


class HTTPConflict(HTTPClientError):
    status_code = 409


class HTTPGone(HTTPClientError):
    status_code = 410


class HTTPLengthRequired(HTTPClientError):
    status_code = 411


class HTTPPreconditionFailed(HTTPClientError):
    status_code = 412


class HTTPRequestEntityTooLarge(HTTPClientError):
    """413, with the limit and the size in the text."""

    status_code = 413

    def __init__(self, max_size: float, actual_size: float, **kwargs: Any) -> None:
        kwargs.setdefault(
            "text",
            f"Maximum request body size {max_size} exceeded, actual body size {actual_size}",
        )
        super().__init__(**kwargs)


class HTTPRequestURITooLong(HTTPClientError):
    status_code = 414


class HTTPUnsupportedMediaType(HTTPClientError):
    status_code = 415


class HTTPRequestRangeNotSatisfiable(HTTPClientError):
    status_code = 416


class HTTPExpectationFailed(HTTPClientError):
    status_code = 417


class HTTPMisdirectedRequest(HTTPClientError):
    status_code = 421


class HTTPUnprocessableEntity(HTTPClientError):
    status_code = 422


class HTTPFailedDependency(HTTPClientError):
    status_code = 424


class HTTPUpgradeRequired(HTTPClientError):
    status_code = 426


class HTTPPreconditionRequired(HTTPClientError):
    status_code = 428


class HTTPTooManyRequests(HTTPClientError):
    status_code = 429


class HTTPRequestHeaderFieldsTooLarge(HTTPClientError):
    status_code = 431


class HTTPUnavailableForLegalReasons(HTTPClientError):
    """451, with a ``Link`` to the blocking authority (RFC 7725)."""

    status_code = 451

    def __init__(self, link: str | URL | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._link = None if link is None else URL(link)
        if link is not None:
            self.headers["Link"] = f'<{link}>; rel="blocked-by"'

    @property
    def link(self) -> URL | None:
        return self._link


class HTTPServerError(HTTPError):
    """Base class for 5xx answers."""


class HTTPInternalServerError(HTTPServerError):
    status_code = 500


class HTTPNotImplemented(HTTPServerError):
    status_code = 501


class HTTPBadGateway(HTTPServerError):
    status_code = 502


class HTTPServiceUnavailable(HTTPServerError):
    status_code = 503


class HTTPGatewayTimeout(HTTPServerError):
    status_code = 504


class HTTPVersionNotSupported(HTTPServerError):
    status_code = 505


class HTTPVariantAlsoNegotiates(HTTPServerError):
    status_code = 506


class HTTPInsufficientStorage(HTTPServerError):
    status_code = 507


class HTTPNotExtended(HTTPServerError):
    status_code = 510


class HTTPNetworkAuthenticationRequired(HTTPServerError):
    status_code = 511

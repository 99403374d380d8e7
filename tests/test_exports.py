"""webkit.web keeps aiohttp.web's public names (those webkit promises so far)."""

from __future__ import annotations

import pytest

from webkit import web

# aiohttp.web names covered by the foundation issue; WebSockets, the Gunicorn worker and
# the rest arrive with their issues and are added here then.
PROMISED = [
    "AppKey",
    "Application",
    "AppRunner",
    "BaseRunner",
    "BaseSite",
    "BaseRequest",
    "ContentCoding",
    "FileField",
    "FileResponse",
    "GracefulExit",
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
    "AbstractResource",
    "AbstractRoute",
    "DynamicResource",
    "PlainResource",
    "PrefixedSubAppResource",
    "Resource",
    "ResourceRoute",
    "StaticResource",
    "UrlDispatcher",
    "UrlMappingMatchInfo",
    "AbstractRouteDef",
    "RouteDef",
    "RouteTableDef",
    "StaticDef",
    "Request",
    "Response",
    "Server",
    "ServerRunner",
    "SockSite",
    "StreamResponse",
    "TCPSite",
    "UnixSite",
    "View",
    "delete",
    "get",
    "head",
    "json_response",
    "middleware",
    "normalize_path_middleware",
    "options",
    "patch",
    "post",
    "put",
    "route",
    "run_app",
    "static",
    "view",
    "NotAppKeyWarning",
    "CleanupError",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
]

# webkit's own additions (issue 4): proxies, CORS and background jobs.
WEBKIT_EXTRAS = [
    "CorsPolicy",
    "ForwardedError",
    "cors",
    "cors_policy",
    "forwarded_relaxed",
    "forwarded_strict",
    "jobs",
    "secure_redirect",
    "x_forwarded_relaxed",
    "x_forwarded_strict",
]


def test_all_names_exist() -> None:
    missing = [name for name in web.__all__ if not hasattr(web, name)]
    assert missing == []


@pytest.mark.parametrize("name", PROMISED + WEBKIT_EXTRAS)
def test_promised_name_is_exported(name: str) -> None:
    assert name in web.__all__
    assert getattr(web, name) is not None


def test_every_http_exception_has_its_status() -> None:
    import http

    statuses = {
        cls.status_code
        for cls in vars(web).values()
        if isinstance(cls, type) and issubclass(cls, web.HTTPException) and cls.status_code > 0
    }
    standard = {
        s.value
        for s in http.HTTPStatus
        if s.value >= 200
        and s.value
        not in (
            # No aiohttp exception class exists for these; they are informational or WebDAV-only.
            207,
            208,
            226,
            418,
            423,
            425,
            508,
            102,
            103,
        )
    }
    assert standard - statuses == set()


def test_top_level_names_that_aiohttp_code_uses() -> None:
    import webkit

    assert webkit.HttpVersion11 == (1, 1)
    assert webkit.HttpVersion10 == (1, 0)
    assert webkit.GunicornWebWorker.__name__ == "GunicornWebWorker"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        webkit.nope  # noqa: B018

"""Cross-Origin Resource Sharing (the Fetch standard's CORS protocol) as a middleware.

aiohttp.web leaves CORS to the aiohttp_cors plugin; webkit has it built in::

    api = web.CorsPolicy(
        allow_origins=["https://app.example"],
        allow_headers=["Content-Type", "Authorization"],
        expose_headers=["X-Request-Id"],
        allow_credentials=True,
        max_age=600,
    )

    @web.cors_policy(web.CorsPolicy(allow_origins="*"))  # this handler: any origin
    async def public(request): ...

    app = web.Application(middlewares=[web.cors(api)])   # every other route: ``api``

A route's policy is, most specific first: the one set with `cors_policy` on its handler (a
function or a view class), the one given for it in ``cors(routes={...})`` (keyed by route or
resource object, route name, or canonical path such as ``"/users/{id}"``), then ``defaults``.
``None`` at any level switches CORS off for the route: the middleware leaves its requests and
responses alone. Requests that match no route (404, 405) use ``defaults``.

What the middleware does on a route with a policy:

- **Preflight** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``): answered
  ``204`` by the middleware itself, with no OPTIONS route needed, when the origin, the method
  and every requested header are allowed by the policy of the route the *requested* method
  reaches. Otherwise ``403`` without CORS headers, the text saying what was refused. A path no
  route matches gets the usual 404; a method the path does not serve gets 403.
- **Actual requests**: when the origin is allowed (and the method, if ``allow_methods`` is a
  list), the response gets ``Access-Control-Allow-Origin`` (the origin itself; ``*`` only for
  ``allow_origins="*"`` without credentials), ``Access-Control-Allow-Credentials: true`` and
  ``Access-Control-Expose-Headers``, as the policy says. Responses get ``Vary: Origin``
  whenever the answer depends on the origin, also to requests without one, so that caches keep
  the variants apart. An `HTTPException` raised by the handler (404, 405 and redirects included)
  gets the same headers and is re-raised, so that outer middlewares still see it.

The middleware owns ``Access-Control-Allow-Origin``, ``-Allow-Credentials`` and
``-Expose-Headers`` on routes with a policy: it sets or removes them. Limitations: a response the
handler has already prepared (streamed, or a WebSocket) is sent before the middleware sees it,
so it gets no headers; an unhandled exception becomes a 500 without them. CORS only decides
which cross-origin pages may *read* responses: a browser sends simple requests (GET, HEAD, form
POSTs) without asking, so it is no protection against CSRF.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from multidict import CIMultiDict

from webkit.web.exceptions import HTTPException, HTTPForbidden
from webkit.web.middlewares import middleware
from webkit.web.response import Response

if TYPE_CHECKING:
    from webkit.web.request import Request
    from webkit.web.response import StreamResponse
    from webkit.web.routing.resources import UrlMappingMatchInfo

__all__ = ["CorsPolicy", "cors", "cors_policy"]

Handler = Callable[["Request"], Awaitable["StreamResponse"]]
Middleware = Callable[["Request", Handler], Awaitable["StreamResponse"]]
_H = TypeVar("_H")

_ANY: Final = "*"
_ATTR: Final = "__webkit_cors_policy__"
_UNSET: Final[Any] = object()
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 6454 §6.2 serialization: scheme "://" host [":" port], nothing after; or "null".
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(?:\[[0-9a-f:.]+\]|[a-z0-9._~%!$&'()*+,;=-]+)(?::\d+)?")
_OWNED = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
)


def _names(value: str | Iterable[str], what: str, *, upper: bool = False) -> str | tuple[str, ...]:
    if value == _ANY:
        return _ANY
    if isinstance(value, str):
        raise TypeError(f"{what} must be '*' or a list of names, not the string {value!r}")
    names: list[str] = []
    for name in value:
        if name == _ANY:
            raise ValueError(f"{what}: write '*' alone, not inside a list")
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"{what}: {name!r} is not a valid HTTP token")
        name = name.upper() if upper else name
        if name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True, kw_only=True)
class CorsPolicy:
    """What cross-origin requests a route accepts (values are normalized on creation).

    Args:
        allow_origins: ``"*"`` (any origin; ``null`` only if listed when credentials are
            allowed), a list of origins such as ``"https://app.example:8443"`` (scheme, host,
            optional port: no path, no trailing slash; ``"null"`` allowed), or a predicate
            ``origin -> bool`` called with a syntactically valid origin.
        allow_methods: ``"*"`` (any method the route serves, the default) or a list; listing
            ``GET`` allows ``HEAD`` too. Applies to preflights and actual requests.
        allow_headers: request headers a preflight may ask for (``"*"``: any), compared
            case-insensitively. Browsers ask for every non-safelisted header, e.g.
            ``Content-Type`` when it is ``application/json``.
        expose_headers: response headers the page may read beyond the safelisted ones
            (``"*"``: all, which needs ``allow_credentials=False``).
        allow_credentials: let pages send cookies and HTTP authentication and read the answer.
            The origin is then always echoed, never ``*``; with ``allow_origins="*"`` any site
            can read authenticated responses, so list origins instead.
        max_age: seconds a browser may cache a preflight answer.

    Raises:
        ValueError: a malformed origin, method or header name, a negative ``max_age``,
            ``expose_headers="*"`` with credentials.
        TypeError: a single string where a list is expected.
    """

    # Lists are accepted and stored as tuples (hence Iterable in the annotations).
    allow_origins: str | Iterable[str] | Callable[[str], bool]
    allow_methods: str | Iterable[str] = _ANY
    allow_headers: str | Iterable[str] = ()
    expose_headers: str | Iterable[str] = ()
    allow_credentials: bool = False
    max_age: int | None = None
    _origins: frozenset[str] = field(init=False, repr=False, compare=False)
    _methods: frozenset[str] = field(init=False, repr=False, compare=False)
    _headers: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        origins = self.allow_origins
        if origins != _ANY and not callable(origins):
            if isinstance(origins, str):
                raise TypeError(
                    f"allow_origins must be '*', a list of origins or a predicate, not the "
                    f"string {origins!r}; write [{origins!r}]"
                )
            normalized: list[str] = []
            for origin in origins:
                if not isinstance(origin, str):
                    raise TypeError(f"allow_origins: {origin!r} is not a str")
                lowered = origin.lower()
                if lowered != "null" and not _ORIGIN.fullmatch(lowered):
                    raise ValueError(
                        f"allow_origins: {origin!r} is not an origin; write scheme://host[:port] "
                        "without a path or trailing slash (e.g. 'https://app.example'), or use "
                        "'*' alone"
                    )
                if lowered not in normalized:
                    normalized.append(lowered)
            set_(self, "allow_origins", tuple(normalized))
            set_(self, "_origins", frozenset(normalized))
        else:
            set_(self, "_origins", frozenset())
        methods = _names(self.allow_methods, "allow_methods", upper=True)
        set_(self, "allow_methods", methods)
        method_set = set() if methods == _ANY else set(methods)
        if "GET" in method_set:
            method_set.add("HEAD")
        set_(self, "_methods", frozenset(method_set))
        headers = _names(self.allow_headers, "allow_headers")
        set_(self, "allow_headers", headers)
        set_(self, "_headers", frozenset(() if headers == _ANY else (h.lower() for h in headers)))
        set_(self, "expose_headers", _names(self.expose_headers, "expose_headers"))
        if not isinstance(self.allow_credentials, bool):
            raise TypeError(f"allow_credentials must be a bool, got {self.allow_credentials!r}")
        if self.allow_credentials and self.expose_headers == _ANY:
            raise ValueError(
                "expose_headers='*' is no wildcard when credentials are allowed (Fetch "
                "standard): list the header names"
            )
        max_age = self.max_age
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
        ):
            raise ValueError(f"max_age must be None or an int >= 0, got {max_age!r}")

    # -- decisions --------------------------------------------------------------------------

    @property
    def varies(self) -> bool:
        """Whether the answer depends on the Origin (then responses carry ``Vary: Origin``)."""
        return self.allow_origins != _ANY or self.allow_credentials

    def origin_allowed(self, origin: str) -> bool:
        """Whether a page from ``origin`` (an ``Origin`` header value) may read responses."""
        lowered = origin.lower()
        if lowered == "null":
            if self.allow_origins == _ANY:
                return not self.allow_credentials
            return "null" in self._origins
        if not _ORIGIN.fullmatch(lowered):
            return False
        origins = self.allow_origins
        if origins == _ANY:
            return True
        if callable(origins):
            return bool(origins(origin))
        return lowered in self._origins

    def method_allowed(self, method: str) -> bool:
        return self.allow_methods == _ANY or method.upper() in self._methods

    def header_allowed(self, name: str) -> bool:
        return self.allow_headers == _ANY or name.lower() in self._headers

    def _allow_origin(self, origin: str) -> str:
        return _ANY if self.allow_origins == _ANY and not self.allow_credentials else origin

    def _response_headers(self, origin: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": self._allow_origin(origin)}
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        expose = self.expose_headers
        if expose:
            headers["Access-Control-Expose-Headers"] = (
                expose if isinstance(expose, str) else (", ".join(expose))
            )
        return headers


def cors_policy(policy: CorsPolicy | None) -> Callable[[_H], _H]:
    """Give one handler (an ``async def`` or a view class) its own policy; ``None``: no CORS.

    Decorate the function itself, below any route decorator::

        @routes.get("/public")
        @web.cors_policy(web.CorsPolicy(allow_origins="*"))
        async def public(request): ...

    Raises:
        TypeError: ``policy`` is not a `CorsPolicy` or None; the handler takes no attributes.
    """
    if policy is not None and not isinstance(policy, CorsPolicy):
        raise TypeError(f"cors_policy() takes a CorsPolicy or None, got {policy!r}")

    def decorate(handler: _H) -> _H:
        try:
            setattr(handler, _ATTR, policy)
        except (AttributeError, TypeError):
            raise TypeError(
                f"cannot set a CORS policy on {handler!r}: decorate the function or view class, "
                "or use cors(routes={...})"
            ) from None
        return handler

    return decorate


def _add_vary(headers: CIMultiDict[str], token: str) -> None:
    present = {
        part.strip().lower() for value in headers.getall("Vary", ()) for part in value.split(",")
    }
    if "*" not in present and token.lower() not in present:
        headers.add("Vary", token)


def cors(
    defaults: CorsPolicy | None = None,
    *,
    routes: Mapping[Any, CorsPolicy | None] | None = None,
) -> Middleware:
    """The CORS middleware (see the module docstring for the behaviour).

    Args:
        defaults: the policy of routes without their own, and of requests no route matches;
            None: only routes given a policy take part in CORS.
        routes: policies (or None, CORS off) by route or resource object, route name, or
            canonical path (starting with ``/``, e.g. ``"/users/{id}"``). A `cors_policy` on
            the handler wins over this.

    Raises:
        TypeError: a policy that is not a `CorsPolicy` or None, or a key of the wrong type.
    """
    if defaults is not None and not isinstance(defaults, CorsPolicy):
        raise TypeError(f"defaults must be a CorsPolicy or None, got {defaults!r}")
    table: dict[Any, CorsPolicy | None] = {}
    for key, policy in (routes or {}).items():
        if policy is not None and not isinstance(policy, CorsPolicy):
            raise TypeError(f"routes[{key!r}] must be a CorsPolicy or None, got {policy!r}")
        if key is None or isinstance(key, (bytes, int, float)):
            raise TypeError(f"routes keys are routes, resources, names or paths, got {key!r}")
        table[key] = policy

    def policy_for(info: UrlMappingMatchInfo) -> CorsPolicy | None:
        if info.http_exception is not None:
            return defaults
        route = info.route
        policy = getattr(route.handler, _ATTR, _UNSET)
        if policy is not _UNSET:
            return policy  # type: ignore[no-any-return]
        if table:
            resource = route.resource
            keys: list[Any] = [route]
            if resource is not None:
                keys += [resource, resource.name, resource.canonical]
            for key in keys:
                if key is not None and key in table:
                    return table[key]
        return defaults

    async def preflight(request: Request, origin: str) -> StreamResponse | CorsPolicy | None:
        """The answer to a preflight; else the policy to treat it as an actual request with
        (a path no route matches), or None for a route with CORS off."""
        method = request.headers["Access-Control-Request-Method"].strip()
        if not _TOKEN.fullmatch(method):
            raise HTTPForbidden(
                text=f"CORS preflight refused: Access-Control-Request-Method {method!r} is not a "
                "method name"
            )
        target = await request.app.router.resolve(request.clone(method=method))  # type: ignore[arg-type]
        exc = target.http_exception
        policy = policy_for(target)
        if policy is None or (exc is not None and exc.status == 404):
            # CORS off for this route (its OPTIONS handler or a 405 answers), or nothing
            # there (the usual 404, with the defaults' headers).
            return policy
        if exc is not None:
            allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ())))
            raise HTTPForbidden(
                text=f"CORS preflight refused: {request.path} does not serve {method} "
                f"(it serves {allowed or 'no method'})"
            )
        if not policy.origin_allowed(origin):
            raise HTTPForbidden(text=f"CORS preflight refused: origin {origin!r} is not allowed")
        if not policy.method_allowed(method):
            raise HTTPForbidden(
                text=f"CORS preflight refused: method {method} is not allowed cross-origin"
            )
        requested = [
            name.strip().lower()
            for value in request.headers.getall("Access-Control-Request-Headers", ())
            for name in value.split(",")
            if name.strip()
        ]
        refused = [
            name
            for name in requested
            if not _TOKEN.fullmatch(name) or not policy.header_allowed(name)
        ]
        if refused:
            raise HTTPForbidden(
                text=f"CORS preflight refused: request headers {', '.join(refused)} are not allowed"
            )
        headers = policy._response_headers(origin)
        headers.pop("Access-Control-Expose-Headers", None)  # for actual responses only
        headers["Access-Control-Allow-Methods"] = (
            method if policy.allow_methods == _ANY else ", ".join(policy.allow_methods)
        )
        if requested:
            headers["Access-Control-Allow-Headers"] = ", ".join(dict.fromkeys(requested))
        if policy.max_age is not None:
            headers["Access-Control-Max-Age"] = str(policy.max_age)
        headers["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        return Response(status=204, headers=headers)

    def apply(headers: CIMultiDict[str], policy: CorsPolicy, cors_headers: dict[str, str]) -> None:
        for name in _OWNED:
            headers.popall(name, None)
        headers.update(cors_headers)
        if policy.varies:
            _add_vary(headers, "Origin")

    @middleware
    async def cors_middleware(request: Request, handler: Handler) -> StreamResponse:
        origin = request.headers.get("Origin")
        if (
            origin is not None
            and request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers
        ):
            answer = await preflight(request, origin)
            if answer is None:
                return await handler(request)
            if not isinstance(answer, CorsPolicy):
                return answer
            policy: CorsPolicy | None = answer
        else:
            policy = policy_for(request.match_info)
        if policy is None:
            return await handler(request)
        cors_headers: dict[str, str] = {}
        if (
            origin is not None
            and policy.origin_allowed(origin)
            and policy.method_allowed(request.method)
        ):
            cors_headers = policy._response_headers(origin)
        try:
            response = await handler(request)
        except HTTPException as exc:
            apply(exc.headers, policy, cors_headers)
            raise
        if not response.prepared:
            apply(response.headers, policy, cors_headers)
        return response

    return cors_middleware

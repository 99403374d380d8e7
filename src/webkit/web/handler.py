"""The door from webkit.http to the framework: turns an `Exchange` into a handled request."""

from __future__ import annotations

import asyncio
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from webkit.http import Exchange, ProtocolError
from webkit.web.exceptions import HTTPException
from webkit.web.log import AbstractAccessLogger, server_logger
from webkit.web.request import BaseRequest, Request
from webkit.web.response import Response, StreamResponse
from webkit.web.routing.resources import _default_expect_handler

if TYPE_CHECKING:
    from webkit.web.app import Application
    from webkit.web.routing.resources import UrlMappingMatchInfo

__all__ = ["AppHandler", "RawHandler"]

_CHAIN_CACHE_LIMIT = 4096


class _Dispatch:
    """What both handlers share: turning results and errors into responses, access logging."""

    def __init__(
        self,
        *,
        access_log: AbstractAccessLogger | None = None,
        debug: bool = False,
        logger: logging.Logger = server_logger,
    ) -> None:
        self._access_log = access_log
        self._debug = debug
        self._logger = logger
        self.requests_count = 0
        # True when no on_response_prepare handler can be connected: plain responses are
        # then sent in one synchronous write.
        self._plain_send = True

    async def _respond(self, request: BaseRequest, response: Any, started: float) -> None:
        exchange = request.exchange
        if not isinstance(response, StreamResponse):
            response = self._internal_error(
                request,
                RuntimeError(f"Web-handler should return a response instance, got {response!r}"),
            )
        try:
            if response._eof_sent:
                pass
            elif (
                type(response) is Response
                and self._plain_send
                and response._can_send_now()
                and not exchange.headers_sent
            ):
                response._send_now(request)
            elif response.prepared:
                await response.write_eof()
            elif exchange.headers_sent:
                # The handler wrote through another response; this one can no longer be sent.
                self._logger.error("handler returned %r after sending another response", response)
                return
            else:
                await response.prepare(request)
                await response.write_eof()
        except ConnectionResetError:
            self._logger.debug("client disconnected before the response was sent")
            return
        access_log = self._access_log
        if access_log is not None and access_log.enabled:
            loop = asyncio.get_running_loop()
            access_log.log(request, response, loop.time() - started)

    def _error_response(self, request: BaseRequest, exc: BaseException) -> StreamResponse | None:
        """The response for an exception raised while handling, or None to drop the connection."""
        if request.exchange.headers_sent:
            if not isinstance(exc, (ConnectionResetError, HTTPException)):
                self._logger.error(
                    "Error handling request after its response started", exc_info=exc
                )
            return None
        if isinstance(exc, HTTPException):
            return http_exception_response(exc)
        if isinstance(exc, ProtocolError):
            return Response(status=exc.status, text=f"{exc.status}: {exc.reason}")
        if isinstance(exc, ConnectionResetError) and (
            request.exchange.peer_gone or request.exchange.body.exception() is exc
        ):
            # The seed's default mode: the handler's read or write raised because the client
            # left (closed, or half-closed mid-body). Nobody is there to get a 500 and it is
            # not a server error, so it is not logged as one.
            self._logger.debug("client disconnected during the request")
            return None
        return self._internal_error(request, exc)

    def _internal_error(self, request: BaseRequest, exc: BaseException) -> Response:
        self._logger.error(
            "Error handling request %s %s", request.method, request.raw_path, exc_info=exc
        )
        text = "500 Internal Server Error\n\nServer got itself in trouble"
        if self._debug:
            text += "\n\n" + "".join(traceback.format_exception(exc))
        response = Response(status=500, text=text)
        response.force_close()
        return response


def http_exception_response(exc: HTTPException) -> Response:
    """The `Response` an `HTTPException` stands for."""
    has_ctype = "Content-Type" in exc.headers
    content_type = None if has_ctype else exc.content_type
    response = Response(
        status=exc.status,
        reason=exc.reason,
        body=exc.body,
        headers=exc.headers if exc.headers else None,
        content_type=content_type,
        charset="utf-8" if content_type is not None and exc._text is not None else None,
    )
    if exc.empty_body:
        response.body = None
    return response


Handler = Callable[[Request], Awaitable[StreamResponse]]


class AppHandler(_Dispatch):
    """Routes each exchange through an `Application`: match, expect, middlewares, handler."""

    def __init__(self, app: Application, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._app = app
        self._chains: dict[tuple[Any, tuple[Application, ...]], Handler] = {}
        self._plain_send = False
        self._frozen_checked = False
        # True when the root app has no middlewares: its handlers are called directly.
        self._bare = False

    async def __call__(self, exchange: Exchange) -> None:
        self.requests_count += 1
        app = self._app
        if not self._frozen_checked:
            # Signals are frozen from startup on, so this holds for the server's lifetime.
            self._frozen_checked = app.frozen
            self._plain_send = app.frozen and not app._has_prepare_signal
            self._bare = app.frozen and not app._middlewares
        started = asyncio.get_running_loop().time() if self._access_log is not None else 0.0
        request = Request(exchange, client_max_size=app._client_max_size)
        try:
            router = app._router
            info = router.match_fixed(request, app)
            if info is None:
                info = await router.resolve(request)
                info.add_app(app)
                info.freeze()
            request._match_info = info
            response: Any = None
            if exchange.expect is not None:
                response = await self._expect(request, info)
            if response is None:
                if self._bare and len(info._apps) == 1:
                    response = await info._route._handler(request)
                else:
                    response = await self._chain(info)(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            response = self._error_response(request, exc)
            if response is None:
                return
        if (
            type(response) is Response
            and self._plain_send
            and not response._compression
            and not response._chunked
            and not exchange.headers_sent
        ):
            # The common case, sent without another coroutine: one synchronous write.
            try:
                response._send_now(request)
            except ConnectionResetError:
                return
            access_log = self._access_log
            if access_log is not None and access_log.enabled:
                access_log.log(request, response, asyncio.get_running_loop().time() - started)
            return
        await self._respond(request, response, started)

    async def _expect(self, request: Request, info: UrlMappingMatchInfo) -> StreamResponse | None:
        """Run the route's Expect handler (RFC 9110 §10.1.1).

        The default one sends ``100 Continue`` lazily, when the body is first read; a custom
        one is responsible for sending it itself, so the lazy one is disarmed.
        """
        route = info.route
        if getattr(route, "_expect_handler", None) is not _default_expect_handler:
            request.exchange.body.set_on_first_read(None)
        return await info.expect_handler(request)

    def _chain(self, info: UrlMappingMatchInfo) -> Handler:
        """The route's handler wrapped in the middlewares of every app, outermost first."""
        handler = info.handler
        apps = tuple(info._apps)
        if not any(app._middlewares for app in apps):
            return handler
        key = (handler, apps)
        cached = self._chains.get(key) if info.http_exception is None else None
        if cached is not None:
            return cached
        chained = handler
        for app in reversed(apps):
            for middleware in reversed(app._middlewares):
                chained = functools.partial(middleware, handler=chained)  # type: ignore[call-arg]
        if info.http_exception is None:
            if len(self._chains) >= _CHAIN_CACHE_LIMIT:
                self._chains.clear()
            self._chains[key] = chained
        return chained


class RawHandler(_Dispatch):
    """Calls a plain ``async def handler(request: BaseRequest)`` for every exchange."""

    def __init__(
        self,
        handler: Callable[[BaseRequest], Awaitable[StreamResponse]],
        *,
        request_factory: Callable[[Exchange], BaseRequest] | None = None,
        client_max_size: int = 1024**2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._handler = handler
        self._client_max_size = client_max_size
        self._request_factory = request_factory or self._make_request

    def _make_request(self, exchange: Exchange) -> BaseRequest:
        return BaseRequest(exchange, client_max_size=self._client_max_size)

    async def __call__(self, exchange: Exchange) -> None:
        self.requests_count += 1
        started = asyncio.get_running_loop().time() if self._access_log is not None else 0.0
        request = self._request_factory(exchange)
        try:
            response: Any = await self._handler(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            response = self._error_response(request, exc)
            if response is None:
                return
        await self._respond(request, response, started)

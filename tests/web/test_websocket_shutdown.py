"""Graceful shutdown reaches WebSockets that on_shutdown did not close."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from webkit import web


async def test_cleanup_closes_a_websocket_nobody_closed_with_going_away() -> None:
    handler_cancelled = asyncio.Event()

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            async for _msg in ws:
                pass
        except asyncio.CancelledError:
            handler_cancelled.set()
            raise
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with connect(f"ws://127.0.0.1:{port}/ws") as client:
        await client.send("hello")
        started = time.monotonic()
        await runner.cleanup()
        elapsed = time.monotonic() - started
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 2)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == web.WSCloseCode.GOING_AWAY
    assert handler_cancelled.is_set()
    assert elapsed < 3

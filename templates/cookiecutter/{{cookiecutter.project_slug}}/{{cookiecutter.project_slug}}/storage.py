"""A shared resource: a SQLite connection opened when the app starts and closed when it stops.

`store_ctx` is a cleanup context: the code before ``yield`` runs at startup, the code after it
at cleanup (only if startup got that far). Replace the store with your database's client.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

from webkit import web

from {{ cookiecutter.project_slug }}.settings import SETTINGS


class VisitStore:
    """Counts page visits in SQLite.

    sqlite3 blocks, so every query runs in a worker thread; the lock gives the connection to
    one query at a time.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> VisitStore:
        return cls(await asyncio.to_thread(_connect, path))

    async def hit(self, page: str) -> int:
        """Count one visit to ``page``; return its visits so far."""
        async with self._lock:
            return await asyncio.to_thread(self._hit, page)

    async def visits(self, page: str) -> int:
        async with self._lock:
            return await asyncio.to_thread(self._visits, page)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._db.close)

    def _hit(self, page: str) -> int:
        with self._db:  # one transaction
            self._db.execute(
                "INSERT INTO visits (page, count) VALUES (?, 1)"
                " ON CONFLICT (page) DO UPDATE SET count = count + 1",
                (page,),
            )
        return self._visits(page)

    def _visits(self, page: str) -> int:
        row = self._db.execute("SELECT count FROM visits WHERE page = ?", (page,)).fetchone()
        return int(row[0]) if row else 0


def _connect(path: str) -> sqlite3.Connection:
    # The connection moves between worker threads, one query at a time (see VisitStore).
    connection = sqlite3.connect(path, check_same_thread=False)
    with connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS visits (page TEXT PRIMARY KEY, count INTEGER NOT NULL)"
        )
    return connection


STORE = web.AppKey("store", VisitStore)
"""Where `store_ctx` puts the store while the app runs: ``request.app[STORE]``."""


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store at startup, close it at cleanup (``app.cleanup_ctx.append(store_ctx)``)."""
    store = await VisitStore.open(app[SETTINGS].database)
    app[STORE] = store
    yield
    await store.close()

"""The process's one async PostgreSQL pool and the unit-of-work helpers around it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from weakref import WeakKeyDictionary

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

Tx = AsyncConnection  # a connection inside an open transaction


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached."""


IDLE_CHECK_SECS = 5.0  # a connection idle longer than this is checked before it is handed out


class Database:
    """Wraps the pool. Connections are autocommit (the LangGraph saver needs that too);
    `transaction()` opens an explicit transaction for a unit of work.

    A connection that may have sat idle is checked with an empty query before use, so one a
    PostgreSQL restart killed is replaced instead of failing a request; a busy one is handed out as
    is, so the hot path pays no extra round trip. "May have sat idle" is judged by when it was last
    handed out (it cannot have been idle for longer than that): no `reset` callback on return,
    which would make the pool put every returned connection back through a background task, a
    task switch per statement-using request during which the connection is not available.
    Statements are prepared after `prepare_threshold` executions (0 turns that off, for PgBouncer
    in transaction mode before 1.21).
    """

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20, prepare_threshold: int = 5):
        self.url = url
        self._handed_out_at: WeakKeyDictionary[AsyncConnection, float] = WeakKeyDictionary()
        self.pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            check=self._check_if_idle,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "prepare_threshold": prepare_threshold or None,
            },
            name="infrence",
        )

    async def _check_if_idle(self, conn: AsyncConnection) -> None:
        now = time.monotonic()
        if now - self._handed_out_at.get(conn, 0.0) > IDLE_CHECK_SECS:
            await AsyncConnectionPool.check_connection(conn)
        self._handed_out_at[conn] = now

    async def open(self, timeout: float = 10.0) -> None:
        try:
            await self.pool.open(wait=True, timeout=timeout)
        except Exception as exc:  # PoolTimeout wraps the connection error
            await self.pool.close()
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from None

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.pool.connection() as conn:
            async with conn.transaction():
                yield conn

    def connection(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """The pool's own context manager (every authenticated request takes one: a wrapping
        generator would cost its frames on each)."""
        return self.pool.connection()

    async def ping(self) -> bool:
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False


def utc_days_cte(days: int) -> str:
    """`WITH days(day), bounds(since)`: today and the `days - 1` UTC calendar days before it, for
    zero-filled daily charts. Rows are binned with date_bin from `bounds.since`: plain arithmetic,
    no time zone lookup per row."""
    return f"""
WITH days AS (
    SELECT generate_series(date_trunc('day', now(), 'UTC') - interval '{int(days) - 1} days',
                           date_trunc('day', now(), 'UTC'), interval '1 day') AS day
), bounds AS (
    SELECT min(day) AS since FROM days
)"""

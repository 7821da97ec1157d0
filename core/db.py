"""The process's one async PostgreSQL pool and the unit-of-work helpers around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

Tx = AsyncConnection  # a connection inside an open transaction


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached."""


class Database:
    """Wraps the pool. Connections are autocommit (the LangGraph saver needs that too);
    `transaction()` opens an explicit transaction for a unit of work."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20):
        self.url = url
        self.pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            check=AsyncConnectionPool.check_connection,  # drop connections a restart killed
            kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None},
            name="infrence",
        )

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

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self.pool.connection() as conn:
            yield conn

    async def ping(self) -> bool:
        try:
            async with self.pool.connection(timeout=2.0) as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False

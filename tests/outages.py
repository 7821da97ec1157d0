"""A lost database connection, made for real: the code under test waits on a lock the test
holds, then the test terminates that backend (`pg_terminate_backend`), as a PostgreSQL restart
or a network cut would. Its client sees the connection drop mid-statement.

    async with holding(database_url, "LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE"):
        await cut_connections_waiting_on(database_url, "FROM subscriptions")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from tests.waiting import until


@asynccontextmanager
async def holding(database_url: str, statement: str, params: tuple = ()) -> AsyncIterator[None]:
    """The locks `statement` takes, held in an open transaction for the block, then rolled back."""
    async with await psycopg.AsyncConnection.connect(database_url) as locker:
        await locker.execute(statement, params)
        yield
        await locker.rollback()


async def cut_connections_waiting_on(database_url: str, text: str) -> int:
    """Terminate the backends of this database blocked on a lock in a statement mentioning
    `text` (at least one, waited for); how many."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:

        async def terminated() -> int:
            cur = await conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND pid <> pg_backend_pid() AND query ILIKE %s",
                (f"%{text}%",),
            )
            return (await cur.fetchone())[0]

        return await until(terminated, what=f"a statement on {text} to wait on the lock")

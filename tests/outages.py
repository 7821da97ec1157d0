"""A lost database connection, made for real: the code under test waits on a lock the test
holds, then the test terminates that backend (`pg_terminate_backend`), as a PostgreSQL restart
or a network cut would. Its client sees the connection drop mid-statement.

    await cut_connections_waiting_on(admin_conn, "outbox_tasks")
"""

from __future__ import annotations

import psycopg

from tests.waiting import until


async def cut_connections_waiting_on(conn: psycopg.AsyncConnection, text: str) -> int:
    """Terminate the backends of this database blocked on a lock in a statement mentioning
    `text` (at least one, waited for); how many. `conn` is autocommit."""

    async def terminated() -> int:
        cur = await conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid() AND query ILIKE %s",
            (f"%{text}%",),
        )
        return (await cur.fetchone())[0]

    return await until(terminated, what=f"a statement on {text} to wait on the lock")

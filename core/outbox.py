"""The outbox: one durable path for side effects.

A side effect (a mail, a meter report, an auto top-up, a Stripe event's handling) is a row in
`outbox_tasks`, written by `enqueue` inside the transaction of the change that causes it, so the
two commit or vanish together. One relay per process claims due rows (`FOR UPDATE SKIP LOCKED`,
so two relays never run the same task), runs the handler registered for the row's kind, marks it
`done`, or reschedules it with exponential backoff and marks it `dead` after
`outbox_max_attempts`. The claim is a lease: a task whose relay died is claimed again once the
lease lapses. Handlers therefore run at least once and must be idempotent at the far end (Stripe
idempotency keys and meter identifiers, Message-IDs), which each handler's docstring says how.

Core imports no domain: whoever owns a kind registers its handler on the `OutboxRegistry` the
composition root hands out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.db import Database, Tx
from core.settings import Settings

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox_tasks"
STATUSES = ("pending", "done", "dead")
MAX_RETRY_DELAY = timedelta(minutes=10)
POLL_SECS = 1.0  # how soon a retry falls due or a lapsed lease is noticed without a NOTIFY
BATCH = 10  # tasks claimed (and run concurrently) at once by one relay
STOP_GRACE_SECS = 10.0  # in-flight handlers may finish; the rest are released

Handler = Callable[[dict[str, Any]], Awaitable[None]]
DeadHandler = Callable[[dict[str, Any], str], Awaitable[None]]


@dataclass(frozen=True)
class OutboxTask:
    id: UUID
    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None
    status: str  # pending | done | dead
    attempts: int
    run_after: datetime
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class TaskKind:
    handler: Handler
    on_dead: DeadHandler | None = None  # told once when the task gives up, with the last error


class OutboxRegistry:
    """Handlers by kind; filled by the composition root before the relay starts."""

    def __init__(self) -> None:
        self._kinds: dict[str, TaskKind] = {}

    def register(self, kind: str, handler: Handler, *, on_dead: DeadHandler | None = None) -> None:
        if kind in self._kinds:
            raise ValueError(f"outbox kind {kind!r} is registered twice")
        self._kinds[kind] = TaskKind(handler, on_dead)

    def get(self, kind: str) -> TaskKind | None:
        return self._kinds.get(kind)


def retry_delay(attempts: int, first_secs: float) -> timedelta:
    """After the n-th failed attempt: first, 2x, 4x ... capped at ten minutes."""
    return min(timedelta(seconds=first_secs * 2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY)


# -- SQL ------------------------------------------------------------------------------------------


def enqueue_cte(name: str, *, kind: str, payload: str, key: str, source: str) -> str:
    """`WITH` items that add a task from inside a larger statement (its transaction), one per row
    of `source` (a FROM list with its WHERE); `payload` and `key` are SQL expressions on it. The
    statement must read `{name}_notified` for its NOTIFY to be sent."""
    return f"""{name} AS (
    INSERT INTO outbox_tasks (kind, payload, dedupe_key) SELECT '{kind}', {payload}, {key} FROM {source}
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
), {name}_notified AS (
    SELECT count(pg_notify('{NOTIFY_CHANNEL}', '')) AS sent FROM {name}
)"""


ENQUEUE_SQL = """
INSERT INTO outbox_tasks (kind, payload, dedupe_key) VALUES (%(kind)s, %(payload)s, %(key)s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id"""

_CLAIMABLE = """status = 'pending' AND run_after <= now()
    AND (locked_until IS NULL OR locked_until < now())"""

CLAIM_DUE_SQL = f"""
WITH due AS (
    SELECT id FROM outbox_tasks WHERE {_CLAIMABLE}
    ORDER BY run_after LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
UPDATE outbox_tasks t SET attempts = t.attempts + 1, locked_by = %(relay)s,
    locked_until = now() + %(lease)s
FROM due WHERE t.id = due.id
RETURNING t.*"""

CLAIM_KEY_SQL = f"""
WITH due AS (
    SELECT id FROM outbox_tasks WHERE dedupe_key = %(key)s AND {_CLAIMABLE}
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox_tasks t SET attempts = t.attempts + 1, locked_by = %(relay)s,
    locked_until = now() + %(lease)s
FROM due WHERE t.id = due.id
RETURNING t.*"""

MARK_DONE_SQL = """
UPDATE outbox_tasks SET status = 'done', done_at = now(), last_error = NULL,
    locked_by = NULL, locked_until = NULL
WHERE id = %(id)s AND locked_by = %(relay)s AND status = 'pending'"""

MARK_FAILED_SQL = """
UPDATE outbox_tasks SET last_error = %(error)s, locked_by = NULL, locked_until = NULL,
    status = CASE WHEN %(dead)s THEN 'dead' ELSE 'pending' END,
    done_at = CASE WHEN %(dead)s THEN now() END,
    run_after = now() + %(delay)s
WHERE id = %(id)s AND locked_by = %(relay)s AND status = 'pending'
RETURNING id"""

RELEASE_SQL = """
UPDATE outbox_tasks SET attempts = attempts - 1, locked_by = NULL, locked_until = NULL
WHERE id = %(id)s AND locked_by = %(relay)s AND status = 'pending'"""

BY_KEY_SQL = "SELECT * FROM outbox_tasks WHERE dedupe_key = %(key)s"

PRUNE_DONE_SQL = "DELETE FROM outbox_tasks WHERE status = 'done' AND done_at < now() - %(age)s"

PAGE_SQL = """
SELECT * FROM outbox_tasks WHERE (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"""


async def enqueue(
    tx: Tx, kind: str, payload: dict[str, Any], *, key: str | None = None, notify: bool = True
) -> UUID | None:
    """Add a task inside the caller's transaction (it runs only if that commits). With `key`,
    enqueueing again is a no-op (returns None). NOTIFY wakes a relay at commit."""
    cur = await tx.execute(ENQUEUE_SQL, {"kind": kind, "payload": Jsonb(payload), "key": key})
    row = await cur.fetchone()
    if row is not None and notify:
        await tx.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return row["id"] if row is not None else None


class OutboxRepository:
    async def claim_due(self, tx: Tx, *, relay: str, lease: timedelta, limit: int) -> list[OutboxTask]:
        async with tx.cursor(row_factory=class_row(OutboxTask)) as cur:
            await cur.execute(CLAIM_DUE_SQL, {"relay": relay, "lease": lease, "limit": limit})
            return await cur.fetchall()

    async def claim_key(self, tx: Tx, key: str, *, relay: str, lease: timedelta) -> OutboxTask | None:
        async with tx.cursor(row_factory=class_row(OutboxTask)) as cur:
            await cur.execute(CLAIM_KEY_SQL, {"key": key, "relay": relay, "lease": lease})
            return await cur.fetchone()

    async def by_key(self, conn: AsyncConnection, key: str) -> OutboxTask | None:
        async with conn.cursor(row_factory=class_row(OutboxTask)) as cur:
            await cur.execute(BY_KEY_SQL, {"key": key})
            return await cur.fetchone()

    async def mark_done(self, conn: AsyncConnection, task_id: UUID, relay: str) -> None:
        await conn.execute(MARK_DONE_SQL, {"id": task_id, "relay": relay})

    async def mark_failed(
        self, conn: AsyncConnection, task_id: UUID, relay: str, *, error: str, delay: timedelta, dead: bool
    ) -> bool:
        """False when the lease was lost meanwhile (another relay owns the task now)."""
        cur = await conn.execute(
            MARK_FAILED_SQL, {"id": task_id, "relay": relay, "error": error, "delay": delay, "dead": dead}
        )
        return await cur.fetchone() is not None

    async def release(self, conn: AsyncConnection, task_id: UUID, relay: str) -> None:
        """Give a task back uncounted (shutdown interrupted it)."""
        await conn.execute(RELEASE_SQL, {"id": task_id, "relay": relay})

    async def prune_done(self, conn: AsyncConnection, older_than: timedelta) -> int:
        """Forget finished tasks; dead ones stay until someone has looked at them."""
        return (await conn.execute(PRUNE_DONE_SQL, {"age": older_than})).rowcount

    async def page(
        self, conn: AsyncConnection, *, status: str | None, limit: int, offset: int
    ) -> list[OutboxTask]:
        async with conn.cursor(row_factory=class_row(OutboxTask)) as cur:
            await cur.execute(PAGE_SQL, {"status": status, "limit": limit, "offset": offset})
            return await cur.fetchall()


class Relay:
    """Claims due tasks and runs their handlers; one per process is plenty."""

    def __init__(
        self, db: Database, registry: OutboxRegistry, settings: Settings, *, relay_id: str | None = None
    ):
        self.db = db
        self.registry = registry
        self.repo = OutboxRepository()
        self.max_attempts = settings.outbox_max_attempts
        self.first_retry_secs = settings.outbox_retry_first_secs
        self.lease = timedelta(seconds=settings.outbox_lease_secs)
        self.relay_id = relay_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: run due tasks, then sleep until a NOTIFY or the next poll."""
        listener = asyncio.create_task(self._listen(stop), name="outbox-listen")
        try:
            while not stop.is_set():
                try:
                    claimed = await self.run_due()
                except Exception as exc:  # database blips: try again on the next tick
                    log.warning("outbox relay: %s", type(exc).__name__)
                    claimed = 0
                if claimed < BATCH:
                    try:
                        await asyncio.wait_for(self.wake.wait(), POLL_SECS)
                    except TimeoutError:
                        pass
                    self.wake.clear()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def run_due(self) -> int:
        """Claim up to a batch of due tasks and run them concurrently; how many were claimed."""
        async with self.db.transaction() as tx:
            tasks = await self.repo.claim_due(tx, relay=self.relay_id, lease=self.lease, limit=BATCH)
        await asyncio.gather(*(self._execute(task) for task in tasks))
        return len(tasks)

    async def run_now(self, key: str) -> OutboxTask | None:
        """Run the task with this dedupe key here and now, unless another relay holds it or it is
        not due; either way it stays the relay's to retry. The task as it ends up."""
        async with self.db.transaction() as tx:
            task = await self.repo.claim_key(tx, key, relay=self.relay_id, lease=self.lease)
        if task is not None:
            await self._execute(task)
        async with self.db.connection() as conn:
            return await self.repo.by_key(conn, key)

    async def _execute(self, task: OutboxTask) -> None:
        kind = self.registry.get(task.kind)
        try:
            if task.attempts > self.max_attempts:
                raise RuntimeError("its relay stopped while running it, too many times")
            if kind is None:
                raise LookupError(f"no handler registered for {task.kind!r}")
            async with asyncio.timeout(self.lease.total_seconds() / 2):
                await kind.handler(task.payload)
        except asyncio.CancelledError:
            async with self.db.connection() as conn:
                await self.repo.release(conn, task.id, self.relay_id)
            raise
        except Exception as exc:
            await self._failed(task, kind, f"{type(exc).__name__}: {exc}"[:500])
        else:
            async with self.db.connection() as conn:
                await self.repo.mark_done(conn, task.id, self.relay_id)

    async def _failed(self, task: OutboxTask, kind: TaskKind | None, error: str) -> None:
        dead = task.attempts >= self.max_attempts
        async with self.db.connection() as conn:
            ours = await self.repo.mark_failed(
                conn,
                task.id,
                self.relay_id,
                error=error,
                delay=retry_delay(task.attempts, self.first_retry_secs),
                dead=dead,
            )
        if not ours:
            return
        if not dead:
            log.info("outbox task %s (%s) attempt %d failed: %s", task.id, task.kind, task.attempts, error)
            return
        log.error(
            "outbox task %s (%s) is dead after %d attempts: %s", task.id, task.kind, task.attempts, error
        )
        if kind is not None and kind.on_dead is not None:
            try:
                await kind.on_dead(task.payload, error)
            except Exception:
                log.exception("outbox task %s: its dead-letter hook failed", task.id)

    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake the loop on NOTIFY; reconnect after errors (polling covers the gap)."""
        while not stop.is_set():
            try:
                async with await AsyncConnection.connect(self.db.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _ in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(POLL_SECS)


async def run_relay_until(relay: Relay, stop: asyncio.Event) -> None:
    """Run `relay` until `stop`, then give in-flight handlers a grace period before cancelling."""
    task = asyncio.create_task(relay.run(stop), name="outbox-relay")
    await stop.wait()
    relay.wake.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_SECS)
    except TimeoutError:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

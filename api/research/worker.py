"""Research workers: claim queued jobs (FOR UPDATE SKIP LOCKED), wake on LISTEN/NOTIFY, hold a
lease with heartbeats, run the graph, settle exactly once.

A job whose lease lapses (its worker died) is claimed again and resumes from its last LangGraph
checkpoint. On shutdown, running jobs drain at a step boundary and go back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import timedelta

import psycopg
from langgraph.errors import GraphDrained
from langgraph.runtime import RunControl
from psycopg_pool import PoolTimeout
from redis.asyncio import Redis

from api import metrics
from api.research.events import EventWriter, JobEvents
from api.research.repository import NOTIFY_CHANNEL, JobRepository, JobRow
from api.research.runner import GraphRunner
from api.research.service import JobOutcome, JobSettlement
from api.retention import run_retention
from core.db import Database
from core.logging import log_context
from core.settings import Settings
from graph.providers.reasoning import ProviderUnavailable, TypedOutputError

log = logging.getLogger(__name__)

HEARTBEAT_SECS = 1.0
POLL_SECS = 1.0  # also how soon a lapsed lease is noticed without a NOTIFY
DRAIN_TIMEOUT_SECS = 20.0
RETENTION_EVERY_SECS = 3600.0
EXPIRE_BATCH = 50
# A database outage interrupts a run without failing it: the lease lapses and the job resumes
# from its last checkpoint once PostgreSQL is back.
OUTAGES = (psycopg.OperationalError, PoolTimeout, OSError)


class ResearchWorker:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        settings: Settings,
        *,
        concurrency: int = 2,
        worker_id: str | None = None,
        drain_timeout_secs: float = DRAIN_TIMEOUT_SECS,
    ):
        self.db = db
        self.redis = redis
        self.settings = settings
        self.concurrency = max(1, concurrency)
        self.drain_timeout_secs = drain_timeout_secs
        self.lease = timedelta(seconds=settings.worker_lease_secs)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.jobs = JobRepository()
        self.events = JobEvents(redis)
        self.settlement = JobSettlement(db, redis, settings)
        self.runner = GraphRunner(db, settings)
        self.wake = asyncio.Event()
        self.running: dict[uuid.UUID, tuple[asyncio.Task, RunControl]] = {}

    @property
    def busy_slots(self) -> int:
        return len(self.running)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then drain running jobs back to the queue."""
        await self.runner.setup()
        listener = asyncio.create_task(self._listen(stop), name="research-listen")
        maintenance = asyncio.create_task(self._maintain(stop), name="research-maintenance")
        try:
            expired_at = 0.0
            while not stop.is_set():
                # A transaction: once per POLL_SECS, not on every wake (under load, every job's end).
                if time.monotonic() - expired_at >= POLL_SECS:
                    expired_at = time.monotonic()
                    await self._expire_unapproved_plans()
                claimed = await self._claim_while_free()
                if not claimed:
                    await self._sleep_until_woken(stop)
        finally:
            listener.cancel()
            maintenance.cancel()
            await self._drain()
            await self.runner.aclose()

    async def _claim_while_free(self) -> bool:
        claimed_any = False
        while len(self.running) < self.concurrency:
            try:
                # One statement, so atomic in autocommit: no BEGIN and COMMIT round trips per claim.
                async with self.db.connection() as conn:
                    job = await self.jobs.claim_next(conn, self.worker_id, self.lease)
            except OUTAGES as exc:
                log.warning("worker %s cannot claim: %s", self.worker_id, type(exc).__name__)
                return False
            if job is None:
                break
            claimed_any = True
            control = RunControl()
            task = asyncio.create_task(self._execute(job, control), name=f"job-{job.id}")
            self.running[job.id] = (task, control)
            task.add_done_callback(lambda _t, job_id=job.id: self._finished(job_id))
        return claimed_any

    def _finished(self, job_id: uuid.UUID) -> None:
        self.running.pop(job_id, None)
        self.wake.set()  # a slot is free

    async def _sleep_until_woken(self, stop: asyncio.Event) -> None:
        stopper = asyncio.create_task(stop.wait())
        waker = asyncio.create_task(self.wake.wait())
        await asyncio.wait({stopper, waker}, timeout=POLL_SECS, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        waker.cancel()
        self.wake.clear()

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN on a dedicated autocommit connection; reconnect after outages."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.db.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _notify in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("worker listen connection lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(POLL_SECS)

    async def _maintain(self, stop: asyncio.Event) -> None:
        """Data retention (old checkpoints, tokens, idempotency keys, streams), hourly."""
        while not stop.is_set():
            await run_retention(self.db, self.redis, self.settings)
            await asyncio.sleep(RETENTION_EVERY_SECS)

    async def _execute(self, job: JobRow, control: RunControl) -> None:
        with log_context(job_id=job.id, user_id=job.user_id):
            await self._execute_in_context(job, control)

    async def _execute_in_context(self, job: JobRow, control: RunControl) -> None:
        if job.attempts > self.settings.job_max_attempts:
            await self.settlement.settle(
                job,
                JobOutcome(
                    status="failed",
                    stop_reason=None,
                    error=f"gave up after {self.settings.job_max_attempts} interrupted attempts",
                ),
                worker_id=self.worker_id,
            )
            return
        writer = EventWriter(self.events, job.id)  # sent by the writer: the run never waits on Redis
        await writer.emit(
            "job.started", {"id": str(job.id), "attempt": job.attempts, "worker": self.worker_id}
        )
        run = asyncio.create_task(self.runner.run(job, control=control, on_event=self._streamer(job, writer)))
        heartbeat = asyncio.create_task(self._heartbeat(job, run))
        try:
            outcome = await run
        except GraphDrained:
            await self._give_back(job.id)
            return
        except OUTAGES as exc:
            log.warning(
                "job %s interrupted by an outage (%s); it resumes when its lease lapses",
                job.id,
                type(exc).__name__,
            )
            return
        except asyncio.CancelledError:
            if heartbeat.done() and heartbeat.result() == "canceled":
                outcome = await self.runner.partial_outcome(job, status="canceled", stop_reason="canceled")
            elif heartbeat.done():  # lease lost to another worker: it owns the job now
                return
            else:
                raise
        except ProviderUnavailable as exc:  # an outage after retries: failed, free, and said so
            log.warning("job %s stopped: %s", job.id, exc)
            outcome = await self.runner.unavailable_outcome(job, exc)
        except TypedOutputError as exc:  # the client's schema could not be cast: its input, its spend
            log.info("job %s failed on its response schema: %s", job.id, exc)
            outcome = await self.runner.failed_on_input(job, exc)
        except Exception as exc:  # anything on our side fails the job and releases its credits
            log.exception("job %s failed", job.id)
            outcome = JobOutcome(status="failed", stop_reason=None, error=_public_error(exc))
        finally:
            heartbeat.cancel()
            await writer.close()  # the last progress before the terminal event
        if outcome.status == "awaiting_approval":
            await self._await_approval(job, outcome.plan or {})
            return
        try:
            outcome = await self._settle(job, outcome)
        except OUTAGES as exc:  # not settled: the next claim finds the finished graph and settles
            log.warning("job %s not settled during an outage (%s)", job.id, type(exc).__name__)
            return
        metrics.record_job_settled(
            status=outcome.status, mode=job.mode, cost_usd_micros=outcome.cost_usd_micros
        )

    async def _settle(self, job: JobRow, outcome: JobOutcome) -> JobOutcome:
        """Settle; when the outcome itself cannot be recorded (not an outage: retrying it would
        fail the same way at every claim), the job fails on our side instead — nothing charged,
        its reservation released — rather than staying `running` until the attempts run out."""
        try:
            await self.settlement.settle(job, outcome, worker_id=self.worker_id)
            return outcome
        except OUTAGES:
            raise
        except Exception:
            log.exception("job %s: its %s outcome could not be recorded", job.id, outcome.status)
        fallback = JobOutcome(
            status="failed",
            stop_reason=None,
            cost_usd_micros=outcome.cost_usd_micros,
            error="the job's result could not be recorded",
        )
        await self.settlement.settle(job, fallback, worker_id=self.worker_id)
        return fallback

    def _streamer(self, job: JobRow, writer: EventWriter):
        async def on_event(event_type: str, data: dict) -> None:
            metrics.record_job_event(event_type, data)
            await writer.emit(event_type, data)

        return on_event

    async def _heartbeat(self, job: JobRow, run: asyncio.Task) -> str:
        """Renew the lease often (a third of it, at most every HEARTBEAT_SECS so a cancel lands
        quickly); stop the run when the job is canceled or the lease lost."""
        while True:
            await asyncio.sleep(min(self.lease.total_seconds() / 3, HEARTBEAT_SECS))
            try:
                async with self.db.connection() as conn:
                    ours, cancel_requested = await self.jobs.extend_lease(
                        conn, job.id, self.worker_id, self.lease
                    )
            except OUTAGES:
                continue  # keep running; the lease may still hold when the database returns
            if not ours or cancel_requested:
                run.cancel()
                return "canceled" if ours else "lost"

    async def _await_approval(self, job: JobRow, plan: dict) -> None:
        """Park the job until its client approves the plan (its reservation stays held)."""
        ttl = timedelta(seconds=self.settings.plan_approval_ttl_secs)
        async with self.db.connection() as conn:
            parked = await self.jobs.await_approval(conn, job.id, self.worker_id, plan, ttl)
        if parked is not None:
            ready = {**plan, "expires_at": parked.approval_expires_at}
            await self.events.append(job.id, "plan.ready", {"id": str(job.id), "plan": ready})

    async def _expire_unapproved_plans(self) -> None:
        """Cancel the jobs whose plan nobody approved in time, releasing their reservations. Any
        worker may do it (the rows are locked with SKIP LOCKED), so it survives any one's death."""
        try:
            async with self.db.transaction() as tx:
                expired = await self.jobs.lock_expired_approvals(tx, EXPIRE_BATCH)
                outcome = JobOutcome(
                    status="canceled", stop_reason="canceled", error="the plan was not approved in time"
                )
                finished = [await self.settlement.settle(job, outcome, tx=tx) for job in expired]
        except OUTAGES as exc:
            log.warning("worker %s cannot expire plans: %s", self.worker_id, type(exc).__name__)
            return
        for job in finished:
            if job is not None:
                await self.settlement.announce(job)

    async def _give_back(self, job_id: uuid.UUID) -> None:
        async with self.db.connection() as conn:
            await self.jobs.release_lease(conn, job_id, self.worker_id)
        log.info("job %s drained back to the queue", job_id)

    async def _drain(self) -> None:
        """Stop every running job at its next step boundary; one still in a step when the drain
        times out is canceled there and given back too (it resumes from its last checkpoint)."""
        if not self.running:
            return
        for _task, control in self.running.values():
            control.request_drain("shutdown")
        running = {task: job_id for job_id, (task, _) in self.running.items()}
        _done, pending = await asyncio.wait(running, timeout=self.drain_timeout_secs)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in pending:
            await self._give_back(running[task])


def _public_error(exc: Exception) -> str:
    """A failure message fit for the client: the exception's own words, never a traceback."""
    message = str(exc).strip() or type(exc).__name__
    return message[:500]


def worker_service(settings: Settings, concurrency: int):
    """A background service for `create_app`: in-process workers and the webhook sender."""
    from api.research.webhooks import WebhookSender

    async def start(app):
        stop = asyncio.Event()
        worker = ResearchWorker(app.state.db, app.state.redis, settings, concurrency=concurrency)
        sender = WebhookSender(app.state.db, settings)
        tasks = [asyncio.create_task(sender.run(stop), name="webhook-sender")]
        if concurrency > 0:
            tasks.append(asyncio.create_task(worker.run(stop), name="research-worker"))
            app.state.research_worker = worker

        async def stop_all() -> None:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        return stop_all

    return start

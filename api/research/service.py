"""Research jobs: submission (validate, reserve, queue in one transaction), reading, waiting,
cancelling, and settlement — the rules; SQL lives in the repositories."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from redis.asyncio import Redis

from api.collections.service import CollectionService
from api.research.events import EventHub, JobEvents, SubscriberTooSlow
from api.research.repository import IDEMPOTENCY_WINDOW, JobRepository, JobRow
from api.research.schemas import (
    CorpusDocument,
    ExtendRequest,
    ExtensionDto,
    PlanApproval,
    ResearchPlan,
    ResearchRequest,
    ResearchResult,
    SourceDto,
    StageError,
    UsageDto,
)
from api.research.webhooks import WebhookRepository, check_webhook_url
from billing.subscriptions import enqueue_overage_report, job_round
from billing.topup import enqueue_auto_topup
from core.db import Database, Tx
from core.errors import Conflict, InsufficientCredits, InvalidRequest, NotFound
from core.ratelimit import Quota
from core.secret_box import secret_box
from core.settings import Settings
from graph.context import corpus_search
from graph.language import language_tag
from graph.modes import InvalidResearchRequest, ModePlan, plan_for
from graph.policy import SourcePolicy
from graph.providers.corpus import corpus_url
from ledger.repository import Stale
from ledger.service import LedgerService

log = logging.getLogger(__name__)

IDEMPOTENCY_CONSTRAINT = "research_jobs_idempotency_key"  # unique (user_id, idempotency_key)

MAX_WAIT_SECS = 60
SYNC_GRACE_SECS = 15


def plan_of(request: dict[str, Any]) -> ModePlan:
    """The budgets and price of a stored (already validated) request."""
    return plan_for(
        request.get("mode", "standard"),
        max_credits=request.get("max_credits"),
        max_wallclock_secs=request.get("max_wallclock_secs"),
    )


def plan_of_job(job: JobRow) -> ModePlan:
    """The budgets and price a job runs under now: its latest extension's, else its request's."""
    if not job.extensions:
        return plan_of(job.request)
    latest = job.extensions[-1]
    return plan_for(latest["mode"], max_credits=latest.get("max_credits"))


@dataclass(frozen=True)
class ChargeRound:
    """The reservation a settlement closes: the job's first run (0) or its latest extension."""

    job_id: UUID
    number: int
    reserved: int
    charged_before: int

    @property
    def key_prefix(self) -> str:
        return job_round(self.job_id, self.number)

    def charge(self, credits: int) -> int:
        """The job's total charge for a round priced at `credits` in total: never less than what
        earlier rounds charged, never more than they charged plus this round's reservation."""
        return min(max(credits, self.charged_before), self.charged_before + self.reserved)


def current_round(job: JobRow) -> ChargeRound:
    if not job.extensions:
        return ChargeRound(job.id, 0, job.credits_reserved, 0)
    latest = job.extensions[-1]
    return ChargeRound(job.id, len(job.extensions), latest["reserved"], latest["charged_before"])


# Checking a response schema against the metaschema is pure Python and scales with its size
# (a second for a 64 KB schema): it runs on one thread of its own, one schema at a time, so
# neither one big schema nor many at once can hold the event loop that answers every request.
_SCHEMA_CHECKS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="schema-check")


async def checked_plan(request: ResearchRequest) -> ModePlan:
    """`validated_plan`, off the event loop when the request carries a schema."""
    if request.response_schema is None:
        return validated_plan(request)
    return await asyncio.get_running_loop().run_in_executor(_SCHEMA_CHECKS, validated_plan, request)


def source_policy_of(request: dict[str, Any]) -> SourcePolicy:
    """The run's source policy from a stored (already validated) request."""
    return SourcePolicy.parse(request.get("source_policy"))


def validated_plan(request: ResearchRequest) -> ModePlan:
    """The request's budgets and price, once every knob the graph reads is known to be valid."""
    try:
        if request.source_policy is not None:
            SourcePolicy.parse(request.source_policy.model_dump())
        if request.output_language is not None:
            language_tag(request.output_language)
        return plan_for(
            request.mode.value,
            max_credits=request.max_credits,
            max_wallclock_secs=request.max_wallclock_secs,
            response_schema=request.response_schema,
        )
    except InvalidResearchRequest as exc:
        raise InvalidRequest(f"{exc.field}: {exc.message}", field=exc.field) from None


EXTENDABLE_STOP_REASONS = ("complete", "budget", "deadline")


class NotExtendable(Conflict):
    code = "not_extendable"
    detail = "Only a succeeded job that stopped complete, on its budget or at its deadline can be extended"


def extension_terms(request: ExtendRequest) -> dict[str, Any]:
    """The mode and cap an extension runs under: `max_credits` alone means metered (`max`)."""
    if request.mode is None and request.max_credits is None:
        raise InvalidRequest("max_credits: give max_credits or mode (or both)", field="max_credits")
    mode = request.mode.value if request.mode is not None else "max"
    return {"mode": mode, "max_credits": request.max_credits if mode == "max" else None}


def validated_extension_plan(extension: dict[str, Any]) -> ModePlan:
    try:
        return plan_for(extension["mode"], max_credits=extension["max_credits"])
    except InvalidResearchRequest as exc:
        raise InvalidRequest(f"{exc.field}: {exc.message}", field=exc.field) from None


def check_extendable(job: JobRow) -> None:
    if job.status != "succeeded" or job.stop_reason not in EXTENDABLE_STOP_REASONS:
        raise NotExtendable(
            f"This job is {job.status}"
            + (f" ({job.stop_reason})" if job.stop_reason else "")
            + "; only a succeeded job that stopped complete, on its budget or at its deadline can be extended"
        )
    if job.checkpoints_pruned_at is not None:
        raise NotExtendable("This job's checkpoints were pruned after its retention period; it cannot resume")


class PreviousJobNotFinished(Conflict):
    code = "previous_job_not_finished"
    detail = (
        "previous_job_id: that job has not finished (running or awaiting approval); follow it up once it has"
    )


class NotAwaitingApproval(Conflict):
    code = "not_awaiting_approval"
    detail = "This job is not waiting for its plan to be approved"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    detail = "This Idempotency-Key was already used with a different request body"


def same_request_or_conflict(earlier: JobRow, request: ResearchRequest) -> JobRow:
    """A retried create answers with the original job; the same key with another body is a
    client bug that must not silently return an unrelated job. Bodies are compared in their
    canonical stored form (the job row keeps it), so key order and spelled-out defaults
    do not matter."""
    if earlier.request != request.stored():
        raise IdempotencyKeyReused()
    return earlier


def result_of(job: JobRow) -> ResearchResult:
    """The client-facing view of a job row, partial while it runs."""
    stored = job.result or {}
    include_summaries = job.request.get("include_sources", True)
    sources = [
        SourceDto(
            url=s.get("url", ""),
            title=s.get("title", ""),
            domain=s.get("domain", ""),
            summary=s.get("summary") if include_summaries else None,
        )
        for s in stored.get("sources", [])
    ]
    return ResearchResult(
        id=job.id,
        status=job.status,
        question=job.question,
        mode=job.mode,
        previous_job_id=job.request.get("previous_job_id"),
        brief=stored.get("brief"),
        typed=stored.get("typed") or {},
        basis=stored.get("basis") or [],
        sources=sources,
        credits_charged=job.credits_charged,
        cost_usd=job.cost_usd_micros / 1_000_000,
        stop_reason=job.stop_reason,
        wave_count=job.wave_count,
        usage=UsageDto(**(stored.get("usage") or {})),
        faithfulness=stored.get("faithfulness"),
        latency_ms=job.latency_ms,
        error=job.error,
        error_code=stored.get("error_code"),
        errors=[
            StageError(stage=e.get("stage", ""), error=e.get("error", "")) for e in stored.get("errors") or ()
        ],
        created_at=job.created_at,
        completed_at=job.completed_at,
        extensions=[ExtensionDto.model_validate(extension) for extension in job.extensions],
        plan=ResearchPlan(**job.plan, expires_at=job.approval_expires_at) if job.plan else None,
    )


def result_event_data(job: JobRow) -> dict[str, Any]:
    return result_of(job).model_dump(mode="json")


@dataclass
class JobOutcome:
    """What a run produced, ready to settle."""

    status: str  # succeeded | failed | canceled, or awaiting_approval (paused, not settled)
    stop_reason: str | None
    cost_usd_micros: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    wave_count: int | None = None
    source_count: int | None = None
    # Failed on the client's input (a schema that could not be cast): charged its metered spend.
    client_fault: bool = False
    # status `awaiting_approval`: the run paused after planning; this is what it proposes.
    plan: dict[str, Any] | None = None


class JobSettlement:
    """Moves a job to its terminal status and settles its reservation exactly once."""

    def __init__(self, db: Database, redis: Redis, settings: Settings):
        self.db = db
        self.settings = settings
        self.jobs = JobRepository()
        self.ledger = LedgerService(db)
        self.webhooks = WebhookRepository()
        self.events = JobEvents(redis)

    def credits_to_charge(self, job: JobRow, outcome: JobOutcome) -> int:
        """The job's total charge after this run. An extension's spend counts the whole run's, so
        it prices the larger budget; what earlier runs were charged stays charged."""
        plan = plan_of_job(job)
        cost_usd = outcome.cost_usd_micros / 1_000_000
        if outcome.status == "failed":
            # Our failure costs the client nothing more; theirs costs what was spent.
            credits = plan.metered_credits(cost_usd) if outcome.client_fault else 0
        else:
            credits = plan.credits_for(cost_usd, outcome.stop_reason)
        return current_round(job).charge(credits)

    async def settle(
        self, job: JobRow, outcome: JobOutcome, tx: Tx | None = None, *, worker_id: str | None = None
    ) -> JobRow | None:
        """Finish + release the unused reservation + queue the webhook and the overage report, in
        one transaction. Returns None (and changes nothing) when the job was already terminal, or
        when `worker_id` (a worker settling its own run) lost the job's lease to another worker:
        the job is that worker's to settle now."""
        if tx is None:
            async with self.db.transaction() as own_tx:
                finished = await self._settle_in(own_tx, job, outcome, worker_id)
        else:
            finished = await self._settle_in(tx, job, outcome, worker_id)
        if finished is not None and tx is None:
            await self.announce(finished)
        return finished

    async def announce(self, finished: JobRow) -> None:
        """After commit: the terminal event for SSE clients."""
        await self.events.append(finished.id, f"job.{finished.status}", result_event_data(finished))

    async def _settle_in(
        self, tx: Tx, job: JobRow, outcome: JobOutcome, worker_id: str | None
    ) -> JobRow | None:
        charged = self.credits_to_charge(job, outcome)
        finished = await self.jobs.finish(
            tx,
            job.id,
            status=outcome.status,
            stop_reason=outcome.stop_reason,
            credits_charged=charged,
            cost_usd_micros=outcome.cost_usd_micros,
            result=outcome.result,
            error=outcome.error,
            wave_count=outcome.wave_count,
            source_count=outcome.source_count,
            lease_owner=worker_id,
        )
        if finished is None:
            return None
        charge_round = current_round(job)
        await self.ledger.release(
            job.user_id,
            charge_round.charged_before + charge_round.reserved - charged,
            idempotency_key=f"{charge_round.key_prefix}:release",
            reservation_key=f"{charge_round.key_prefix}:reserve",
            related_id=str(job.id),
            note=f"{outcome.status} {job.mode} job"
            + (f", extension {charge_round.number}" if charge_round.number else ""),
            tx=tx,
        )
        if charge_round.number:
            await self.jobs.record_extension_charge(tx, job.id, charged - charge_round.charged_before)
            finished = await self.jobs.get(tx, job.id)
        if job.webhook_url:
            body = json.dumps(result_event_data(finished), separators=(",", ":"))
            await self.webhooks.enqueue(tx, job.id, charge_round.number, job.webhook_url, body)
        await enqueue_overage_report(
            tx,
            user_id=job.user_id,
            job_id=job.id,
            extension=charge_round.number,
            credits_charged=charged - charge_round.charged_before,
        )
        return finished


class JobService:
    def __init__(self, db: Database, redis: Redis, settings: Settings, hub: EventHub | None = None):
        self.db = db
        self.settings = settings
        self.jobs = JobRepository()
        self.ledger = LedgerService(db)
        self.events = JobEvents(redis)
        self.hub = hub or EventHub(self.events)  # pass the process's hub to share its reader
        self.settlement = JobSettlement(db, redis, settings)

    def runs_async(self, request: ResearchRequest, plan: ModePlan) -> bool:
        return (
            request.run_async
            or request.plan_approval
            or request.webhook_url is not None
            or plan.budgets.max_wallclock_secs > self.settings.sync_max_secs
        )

    async def submit(
        self,
        user_id: UUID,
        request: ResearchRequest,
        *,
        origin: str,
        api_key_id: UUID | None = None,
        idempotency_key: str | None = None,
        quota: Quota | None = None,
    ) -> JobRow:
        """Validate before any charge, then idempotency check + job row + reservation + ledger row
        + NOTIFY in one statement (one round trip; see `JobRepository.create`). A `quota` (the
        caller's rate limit) is counted in the Redis round trip that announces the job, after
        validation: a request refused as invalid does not count."""
        plan = await checked_plan(request)
        if request.web is False and not request.collections and not request.mcp_servers:
            raise InvalidRequest(
                "web: false needs at least one of your collections or mcp_servers to search", field="web"
            )
        await CollectionService(self.db, self.settings).check_owned(user_id, request.collections or [])
        if request.previous_job_id is not None:
            await self.check_previous(user_id, request.previous_job_id)
        if request.webhook_url is not None:
            await check_webhook_url(request.webhook_url, allow_private=self.settings.allow_private_urls)
        for n, server in enumerate(request.mcp_servers or ()):
            await check_webhook_url(
                server.url, allow_private=self.settings.allow_private_urls, field=f"mcp_servers[{n}].url"
            )
        headers = request.connector_headers()
        sealed_headers = secret_box(self.settings).seal(json.dumps(headers)) if headers else None
        if idempotency_key is not None and len(idempotency_key) > 255:
            raise InvalidRequest("Idempotency-Key must be at most 255 characters", field="Idempotency-Key")

        # `job.queued` goes out before the row commits: the NOTIFY in the same statement can start
        # a worker whose `job.started` would otherwise land first. No job, no stream: it is dropped.
        job_id = uuid4()
        queued = (
            "job.queued",
            {"id": str(job_id), "mode": plan.mode, "credits_reserved": plan.credits_to_reserve},
        )
        if quota is None:
            await self.events.append(job_id, *queued)
        else:
            await self._count_and_announce(quota, job_id, queued)

        def create(conn: Tx) -> Awaitable[tuple[JobRow, bool] | Stale | None]:
            return self.jobs.create(
                conn,
                job_id=job_id,
                user_id=user_id,
                api_key_id=api_key_id,
                origin=origin,
                mode=plan.mode,
                question=request.question,
                request=request.stored(),
                runs_async=self.runs_async(request, plan),
                credits_reserved=plan.credits_to_reserve,
                webhook_url=request.webhook_url,
                idempotency_key=idempotency_key,
                idempotency_window=IDEMPOTENCY_WINDOW,
                connector_headers=sealed_headers,
            )

        try:
            try:
                created = await self.ledger.on_account(user_id, create)
            except psycopg.errors.UniqueViolation as exc:
                # A concurrent create with the key is seen by the statement (it waits on the
                # account row), so only a job past the replay window can still hold the key:
                # retention forgets such keys hourly; forget this one now and create.
                if exc.diag.constraint_name != IDEMPOTENCY_CONSTRAINT:
                    raise
                async with self.db.connection() as conn:
                    await self.jobs.forget_idempotency_keys_older_than(
                        conn, IDEMPOTENCY_WINDOW, user_id=user_id, key=idempotency_key
                    )
                created = await self.ledger.on_account(user_id, create)
        except BaseException:
            await self.events.drop(job_id)
            raise
        if created is None:
            await self.events.drop(job_id)
            raise InsufficientCredits(f"This needs {plan.credits_to_reserve} credits; the balance is lower")
        job, is_new = created
        if not is_new:
            await self.events.drop(job_id)
            return same_request_or_conflict(job, request)
        return job

    async def _count_and_announce(
        self, quota: Quota, job_id: UUID, queued: tuple[str, dict[str, Any]]
    ) -> None:
        """The rate limit's count and the `job.queued` event in one Redis round trip (one
        MULTI/EXEC); over the limit, the event is taken back and the create refused. Redis being
        down fails the create, as the limit's own round trip did."""
        async with self.events.redis.pipeline(transaction=True) as pipe:
            quota.count_on(pipe)
            self.events.add_to(pipe, job_id, [queued])
            count, *_ = await pipe.execute()
        state = quota.settle(count)
        if state.exceeded:
            await self.events.drop(job_id)
            raise state.refuse()

    async def extend(
        self, user_id: UUID, job_id: UUID, request: ExtendRequest, *, idempotency_key: str | None = None
    ) -> JobRow:
        """Requeue a succeeded job with a larger budget: it resumes from its last checkpoint, and
        one more reservation (the new price less what it was charged) is written with the job's
        update, in one transaction. A key already used on this job answers the job as it is."""
        extension = extension_terms(request)
        if idempotency_key is not None and len(idempotency_key) > 255:
            raise InvalidRequest("Idempotency-Key must be at most 255 characters", field="Idempotency-Key")
        async with self.db.transaction() as tx:
            job = await self.jobs.get(tx, job_id, for_update=True)
            if job is None or job.user_id != user_id:
                raise NotFound("No such research job")
            earlier = next(
                (
                    e
                    for e in job.extensions
                    if idempotency_key and e.get("idempotency_key") == idempotency_key
                ),
                None,
            )
            if earlier is not None:
                if earlier["request"] != request.stored():
                    raise IdempotencyKeyReused()
                return job
            check_extendable(job)
            plan = validated_extension_plan(extension)
            reserve = plan.credits_to_reserve - job.credits_charged
            if reserve <= 0:
                field = "max_credits" if request.max_credits is not None else "mode"
                raise InvalidRequest(
                    f"{field}: must price above the {job.credits_charged} credits already charged",
                    field=field,
                )
            number = len(job.extensions) + 1
            await self.ledger.reserve(
                user_id,
                reserve,
                idempotency_key=f"job:{job.id}:extend:{number}:reserve",
                related_id=str(job.id),
                note=f"extension {number} of {job.mode} job to {plan.mode}",
                tx=tx,
            )
            record = {
                **extension,
                "at": datetime.now(UTC).isoformat(),
                "reserved": reserve,
                "charged_before": job.credits_charged,
                "credits": reserve,
                "request": request.stored(),
                "idempotency_key": idempotency_key,
            }
            job = await self.jobs.extend(tx, job.id, mode=plan.mode, reserved=reserve, extension=record)
            await enqueue_auto_topup(tx, user_id, cause=f"job:{job_id}:extend:{number}")
            await self.jobs.notify_queued(tx, job_id)
        await self.events.append(
            job_id,
            "job.extended",
            {"id": str(job_id), "extension": number, "mode": plan.mode, "credits_reserved": reserve},
        )
        return job

    async def check_previous(self, user_id: UUID, job_id: UUID) -> None:
        """A follow-up needs an earlier job of the caller's (else 404, as for any job of another
        user) that has finished (else 409): a running job's claims are not settled yet."""
        try:
            previous = await self.get(user_id, job_id)
        except NotFound:
            raise NotFound("previous_job_id: no such research job") from None
        if not previous.is_terminal:
            raise PreviousJobNotFinished()

    async def approve_plan(self, user_id: UUID, job_id: UUID, approval: PlanApproval) -> JobRow:
        """Queue a job paused after planning again; the worker resumes its thread with these queries."""
        async with self.db.transaction() as tx:
            job = await self.jobs.get(tx, job_id, for_update=True)
            if job is None or job.user_id != user_id:
                raise NotFound("No such research job")
            if job.status != "awaiting_approval":
                raise NotAwaitingApproval(f"This job is {job.status}, not awaiting_approval")
            branches = plan_of_job(job).budgets.branches
            if len(approval.queries) > branches:
                raise InvalidRequest(
                    f"queries: at most {branches} for a {job.mode} job (its branches per wave)",
                    field="queries",
                )
            queries = [" ".join(q.split()) for q in approval.queries]
            if not all(queries):
                raise InvalidRequest("queries: must not be blank", field="queries")
            job = await self.jobs.approve_plan(tx, job_id, queries)
            await self.jobs.notify_queued(tx, job_id)
        await self.events.append(job_id, "plan.approved", {"id": str(job_id), "queries": queries})
        return job

    async def get(self, user_id: UUID, job_id: UUID) -> JobRow:
        async with self.db.connection() as conn:
            job = await self.jobs.get_for_user(conn, job_id, user_id)
        if job is None:
            raise NotFound("No such research job")
        return job

    async def list(self, user_id: UUID, *, status: str | None, limit: int, offset: int) -> list[JobRow]:
        async with self.db.connection() as conn:
            return await self.jobs.list_for_user(conn, user_id, status=status, limit=limit, offset=offset)

    async def wait_until_terminal(self, job: JobRow, timeout_secs: float) -> JobRow:
        """Block until the job ends or the timeout passes. Wakes on the job's events through the
        process's event hub (no Redis connection held per waiter) and re-reads the row whenever
        a second passes quietly, so a lost event or a Redis outage only slows the answer."""
        deadline = time.monotonic() + timeout_secs
        async with self.hub.subscribe(job.id, None) as live:
            while not job.is_terminal and (remaining := deadline - time.monotonic()) > 0:
                try:
                    event = await live.next(timeout=min(remaining, 1.0))
                except SubscriberTooSlow:  # cut loose by the hub: fall back to polling the row
                    event = None
                    await asyncio.sleep(min(remaining, 1.0))
                if event is not None and not event.is_terminal:
                    continue
                async with self.db.connection() as conn:
                    job = await self.jobs.get(conn, job.id) or job
        return job

    async def wait_for_sync_result(self, job: JobRow) -> JobRow:
        budget = plan_of_job(job).budgets.max_wallclock_secs
        return await self.wait_until_terminal(job, budget + SYNC_GRACE_SECS)

    async def cancel(self, user_id: UUID, job_id: UUID, *, wait_secs: float = 5.0) -> JobRow:
        """Idempotent. A queued job ends at once with nothing charged; a running one is asked to
        stop at its next step and settles on what it used (never above the price)."""
        async with self.db.transaction() as tx:
            job = await self.jobs.get(tx, job_id, for_update=True)
            if job is None or job.user_id != user_id:
                raise NotFound("No such research job")
            if job.is_terminal:
                return job
            await self.jobs.request_cancel(tx, job_id)
            finished = None
            if job.status in ("queued", "awaiting_approval"):  # no worker holds it: end it here
                finished = await self.settlement.settle(
                    job, JobOutcome(status="canceled", stop_reason="canceled"), tx=tx
                )
        if finished is not None:
            await self.settlement.announce(finished)
            return finished
        await self.events.append(job_id, "job.cancel_requested", {"id": str(job_id)})
        return await self.wait_until_terminal(job, wait_secs)


async def corpus_document(settings: Settings, path: str) -> CorpusDocument:
    """A document of the local corpus the offline search reads, as stored and quoted, for a
    client following a `corpus://` citation. Only indexed paths answer (no file system walk)."""
    found = await corpus_search(settings.corpus_dir, settings.data_dir).index.adocument(path)
    if found is None:
        raise NotFound("No such corpus document")
    title, text = found
    return CorpusDocument(url=corpus_url(path), title=title, text=text)

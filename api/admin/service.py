"""The admin rules: who may be suspended, what may be refunded, how tickets move — each
mutation in one transaction with its audit row (who, what, target, payload, when)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from uuid import UUID

from redis.asyncio import Redis

from api.admin.repository import (
    STATS_DAYS,
    AdminRepository,
    SignupBucket,
    Totals,
    UserDetail,
    UserRow,
)
from api.research.repository import JobBucket, JobDetail, JobRepository, JobRow, JobSummary
from api.research.schemas import JobStatus
from api.research.service import JobService
from api.support.repository import Ticket, TicketReply, TicketRepository, TicketSummary
from api.support.schemas import TICKET_CATEGORIES, TICKET_STATUSES
from auth.models import User
from auth.repository import AccountRepository
from core.audit import AuditEntry, AuditLog
from core.db import Database
from core.errors import Conflict, InvalidRequest, NotFound
from core.mail import Mailer
from core.outbox import STATUSES as OUTBOX_STATUSES
from core.outbox import OutboxRepository, OutboxTask
from core.pagination import Page
from core.settings import Settings
from ledger.repository import LedgerEntry, LedgerRepository
from ledger.service import LedgerService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stats:
    signups: list[SignupBucket]
    jobs: list[JobBucket]
    totals: Totals


@dataclass(frozen=True)
class Refund:
    job: JobRow
    entry: LedgerEntry
    credits: int


def _one_of(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidRequest(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


class AdminService:
    def __init__(self, db: Database, redis: Redis, settings: Settings, mailer: Mailer):
        self.db = db
        self.mailer = mailer
        self.admin = AdminRepository()
        self.audits = AuditLog()
        self.accounts = AccountRepository()
        self.jobs = JobRepository()
        self.job_service = JobService(db, redis, settings)
        self.ledger = LedgerService(db)
        self.ledger_entries = LedgerRepository()
        self.tickets = TicketRepository()

    # -- users ------------------------------------------------------------------------------

    async def users_page(self, q: str | None, page: Page) -> list[UserRow]:
        """`q`: a whole user id, or any part of an email (case-insensitive)."""
        q = (q or "").strip()
        user_id = _as_uuid(q)
        async with self.db.connection() as conn:
            return await self.admin.users_page(
                conn,
                user_id=user_id,
                email_fragment=q.lower() if q and user_id is None else None,
                limit=page.limit,
                offset=page.offset,
            )

    async def user(self, user_id: UUID) -> UserDetail:
        async with self.db.connection() as conn:
            found = await self.admin.user_detail(conn, user_id)
            if found is None:
                raise NotFound("User not found")
            return replace(found, jobs_count=await self.jobs.count_of_user(conn, user_id))

    async def user_jobs(self, user_id: UUID, page: Page) -> list[JobRow]:
        await self.user(user_id)
        return await self.job_service.list(user_id, status=None, limit=page.limit, offset=page.offset)

    async def suspend(self, admin: User, user_id: UUID) -> UserDetail:
        """Refuse every session and key of the user at once, end their sessions for good, and
        cancel their queued and running jobs (the reservations are released by settlement)."""
        if user_id == admin.id:
            raise InvalidRequest("An admin cannot suspend their own account", field="id")
        async with self.db.transaction() as tx:
            await self._existing_user(tx, user_id)
            if await self.accounts.set_suspended(tx, user_id, True):
                await self.accounts.revoke_user_sessions(tx, user_id)
                await self.audits.record(
                    tx,
                    admin_id=admin.id,
                    action="user.suspend",
                    target_type="user",
                    target_id=user_id,
                    payload={},
                )
        # After commit: the user can no longer submit, so the live jobs listed now are all of them.
        async with self.db.connection() as conn:
            live = await self.jobs.live_job_ids_for_user(conn, user_id)
        for job_id in live:
            await self.job_service.cancel(user_id, job_id, wait_secs=0)
        if live:
            log.info("suspension of user %s canceled %d live jobs", user_id, len(live))
        return await self.user(user_id)

    async def unsuspend(self, admin: User, user_id: UUID) -> UserDetail:
        """Keys work again at once; sessions ended by the suspension stay ended (sign in again)."""
        async with self.db.transaction() as tx:
            await self._existing_user(tx, user_id)
            if await self.accounts.set_suspended(tx, user_id, False):
                await self.audits.record(
                    tx,
                    admin_id=admin.id,
                    action="user.unsuspend",
                    target_type="user",
                    target_id=user_id,
                    payload={},
                )
        return await self.user(user_id)

    async def _existing_user(self, conn, user_id: UUID) -> User:
        user = await self.accounts.user_by_id(conn, user_id)
        if user is None:
            raise NotFound("User not found")
        return user

    # -- jobs and refunds -----------------------------------------------------------------------

    async def jobs_page(
        self, *, user_email: str | None, status: JobStatus | None, page: Page
    ) -> list[JobSummary]:
        email = user_email.strip().lower() if user_email and user_email.strip() else None
        async with self.db.connection() as conn:
            return await self.jobs.admin_page(
                conn, user_email=email, status=status, limit=page.limit, offset=page.offset
            )

    async def job(self, job_id: UUID) -> JobDetail:
        async with self.db.connection() as conn:
            found = await self.jobs.admin_detail(conn, job_id)
        if found is None:
            raise NotFound("No such research job")
        return found

    async def refund(
        self, admin: User, job_id: UUID, *, credits: int, note: str, idempotency_key: str
    ) -> Refund:
        """Give back part of what a job charged: one `refund` ledger row, the job's refund count
        and the audit row commit together. A key already used answers the first refund."""
        if credits <= 0:
            raise InvalidRequest("credits must be a positive integer", field="credits")
        if len(idempotency_key) > 255:
            raise InvalidRequest("Idempotency-Key must be at most 255 characters", field="Idempotency-Key")
        ledger_key = f"admin:{idempotency_key}"
        async with self.db.transaction() as tx:
            job = await self.jobs.get(tx, job_id, for_update=True)  # serialises refunds of one job
            if job is None:
                raise NotFound("No such research job")
            earlier = await self.ledger_entries.by_key(tx, ledger_key)
            if earlier is not None:
                if (earlier.kind, earlier.related_id, earlier.delta) != ("refund", str(job.id), credits):
                    raise Conflict("This idempotency key was already used for a different credit change")
                return Refund(job=job, entry=earlier, credits=credits)
            refundable = job.credits_charged - job.credits_refunded
            if credits > refundable:
                raise InvalidRequest(
                    f"At most {refundable} credits of this job can still be refunded", field="credits"
                )
            entry = await self.ledger.refund(
                job.user_id, credits, idempotency_key=ledger_key, related_id=str(job.id), note=note, tx=tx
            )
            job = await self.jobs.record_refund(tx, job.id, credits)
            await self.audits.record(
                tx,
                admin_id=admin.id,
                action="job.refund",
                target_type="job",
                target_id=job.id,
                payload={
                    "credits": credits,
                    "note": note,
                    "user_id": str(job.user_id),
                    "idempotency_key": idempotency_key,
                    "ledger_entry_id": str(entry.id),
                },
            )
        return Refund(job=job, entry=entry, credits=credits)

    # -- tickets -----------------------------------------------------------------------------------

    async def tickets_page(
        self, *, status: str | None, category: str | None, page: Page
    ) -> list[TicketSummary]:
        status = _one_of(status, TICKET_STATUSES, "status")
        category = _one_of(category, TICKET_CATEGORIES, "category")
        async with self.db.connection() as conn:
            return await self.tickets.page(
                conn, status=status, category=category, limit=page.limit, offset=page.offset
            )

    async def ticket(self, ticket_id: UUID) -> tuple[Ticket, list[TicketReply]]:
        async with self.db.connection() as conn:
            ticket = await self.tickets.get(conn, ticket_id)
            if ticket is None:
                raise NotFound("No such ticket")
            return ticket, await self.tickets.replies(conn, ticket_id)

    async def set_ticket_status(
        self, admin: User, ticket_id: UUID, status: str
    ) -> tuple[Ticket, list[TicketReply]]:
        """Close or reopen; doing it twice changes (and audits) nothing."""
        async with self.db.transaction() as tx:
            if await self.tickets.get(tx, ticket_id, for_update=True) is None:
                raise NotFound("No such ticket")
            if await self.tickets.set_status(tx, ticket_id, status):
                action = "ticket.close" if status == "closed" else "ticket.reopen"
                await self.audits.record(
                    tx,
                    admin_id=admin.id,
                    action=action,
                    target_type="ticket",
                    target_id=ticket_id,
                    payload={},
                )
        return await self.ticket(ticket_id)

    async def reply(self, admin: User, ticket_id: UUID, *, body: str, send_email: bool) -> TicketReply:
        """With `send_email`, the mail to the ticket's address commits with the reply."""
        async with self.db.transaction() as tx:
            ticket = await self.tickets.get(tx, ticket_id, for_update=True)
            if ticket is None:
                raise NotFound("No such ticket")
            reply = await self.tickets.insert_reply(
                tx, ticket_id=ticket_id, admin_id=admin.id, body=body, sent_email=send_email
            )
            mail = None
            if send_email:
                mail = await self.mailer.enqueue(
                    tx, "ticket_reply", ticket.email, ticket_id=ticket.id, subject=ticket.subject, reply=body
                )
            await self.audits.record(
                tx,
                admin_id=admin.id,
                action="ticket.reply",
                target_type="ticket",
                target_id=ticket_id,
                payload={"reply_id": str(reply.id), "send_email": send_email},
            )
        if mail is not None:
            self.mailer.dispatch(mail)
        return reply

    # -- stats and audit -----------------------------------------------------------------------------

    async def stats(self) -> Stats:
        async with self.db.connection() as conn:
            return Stats(
                signups=await self.admin.signups_by_day(conn),
                jobs=await self.jobs.by_day(conn, STATS_DAYS),
                totals=replace(
                    await self.admin.totals(conn), in_flight_jobs=await self.jobs.count_live(conn)
                ),
            )

    async def outbox_page(self, *, status: str | None, page: Page) -> list[OutboxTask]:
        status = _one_of(status, OUTBOX_STATUSES, "status")
        async with self.db.connection() as conn:
            return await OutboxRepository().page(conn, status=status, limit=page.limit, offset=page.offset)

    async def audit_log(
        self, *, target_type: str | None, target_id: str | None, page: Page
    ) -> list[AuditEntry]:
        async with self.db.connection() as conn:
            return await self.audits.page(
                conn, target_type=target_type, target_id=target_id, limit=page.limit, offset=page.offset
            )


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None

"""Plans: the subscription's status and period as Stripe reports them, the plan's included
credits once per paid invoice (into the plan bucket, expiring at the period's end: see
`ledger/buckets.py`), and credits drawn beyond both buckets reported to a Stripe Billing Meter.

Since API 2025-03-31 an invoice names its subscription under `parent.subscription_details`
and periods live on subscription items; older payloads are read too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from billing.catalog import Plan, catalog
from billing.repository import BillingRepository, MeterReport
from billing.stripe_gateway import stripe_gateway
from billing.stripe_objects import (
    cents,
    dig,
    invoice_payment_intent,
    invoice_subscription,
    is_proration,
    line_price,
    object_id,
    timestamp,
)
from core import outbox
from core.db import Database, Tx
from core.outbox import OutboxRegistry
from core.settings import Settings
from ledger import LedgerService

log = logging.getLogger(__name__)

# Invoices that open a period. Others (prorations on a plan change, manual invoices) grant
# nothing, so changing plan mid-period never hands out a second month of credits.
GRANTING_INVOICE_REASONS = {"subscription_create", "subscription_cycle"}
PLAN_CHANGE = "plan_change"  # the payment row's item for an invoice of prorations only
OVERAGE_TASK = "billing.report_overage"
SWEEP_BATCH = 500  # accounts ended per sweep; the next sweep continues
PERIOD_SWEEP_EVERY_SECS = 60.0


def job_round(job_id: UUID, extension: int) -> str:
    """A job's round as its ledger keys name it: `job:<id>` for its first run, `job:<id>:extend:<n>`
    for its nth extension. Each round is charged, and its overage metered, on its own."""
    return f"job:{job_id}" + (f":extend:{extension}" if extension else "")


def overage_identifier(job_id: UUID, extension: int) -> str:
    """The Billing Meter identifier (and outbox key) of one round's overage: Stripe counts it once."""
    return "overage:" + job_round(job_id, extension).removeprefix("job:")


async def enqueue_overage_report(
    tx: Tx, *, user_id: UUID, job_id: UUID, credits_charged: int, extension: int = 0
) -> None:
    """Inside the transaction that charges a job's round (`credits_charged` is what this round
    added): the outbox reports its overage after commit (nothing to report for non-subscribers;
    the handler finds that out)."""
    if credits_charged > 0:
        payload = {
            "user_id": str(user_id),
            "job_id": str(job_id),
            "extension": extension,
            "credits_charged": credits_charged,
        }
        await outbox.enqueue(tx, OVERAGE_TASK, payload, key=overage_identifier(job_id, extension))


class UnknownPlanPrice(Exception):
    """An invoice that opens a period bills no plan we sell: grant nothing, keep the event's
    error for admins (fix the catalog's price ids, then replay it)."""


class Subscriptions:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        ledger: LedgerService | None = None,
        repo: BillingRepository | None = None,
    ):
        self.db = db
        self.settings = settings
        self.ledger = ledger or LedgerService(db)
        self.repo = repo or BillingRepository()

    # -- webhooks -------------------------------------------------------------------------

    async def record(self, subscription: dict, *, deleted: bool = False) -> None:
        """`customer.subscription.created` / `updated` / `deleted`: status, period and the plan
        its item's price bills (a portal plan change shows here first)."""
        item = dig(subscription, "items", "data", 0) or {}
        plan = catalog().plan_for_price(*line_price(item))
        async with self.db.transaction() as tx:
            user_id = await self._user(tx, subscription.get("customer"))
            if plan is None or user_id is None or not subscription.get("id"):
                log.warning("subscription %s not for a known user and plan; ignored", subscription.get("id"))
                return
            status = "canceled" if deleted else str(subscription.get("status") or "incomplete")
            if deleted:  # only the terminal event: others may arrive out of order
                await self._end_period(tx, user_id, f"subscription:{subscription['id']}:deleted", "canceled")
            await self.repo.upsert_subscription(
                tx,
                user_id=user_id,
                plan_id=plan.id,
                stripe_subscription_id=subscription["id"],
                status=status,
                period_start=timestamp(
                    item.get("current_period_start") or subscription.get("current_period_start")
                ),
                period_end=timestamp(
                    item.get("current_period_end") or subscription.get("current_period_end")
                ),
                included_credits=plan.included_credits,
            )

    async def invoice_paid(self, invoice: dict) -> None:
        """Grant what the invoice billed: the included credits of the plan whose price is on its
        subscription line, once per invoice (ledger key `invoice:{id}`). Never the plan named in
        metadata: after a portal downgrade it still names the old plan. Prorations grant
        nothing, nor does a $0 invoice unless its plan says so. Every paid invoice is kept as a
        payment: it shows in the history, and a refund or lost dispute claws its grant back."""
        subscription_id, invoice_id = invoice_subscription(invoice), object_id(invoice.get("id"))
        if not subscription_id or not invoice_id:
            return
        plan, line = plan_billed_by(invoice)
        opens_period = invoice.get("billing_reason") in GRANTING_INVOICE_REASONS
        if plan is None and opens_period:
            raise UnknownPlanPrice(f"invoice {invoice_id} bills no price of a plan in the catalog")
        claimed = dig(invoice, "parent", "subscription_details", "metadata", "plan_id")
        if plan is not None and claimed and claimed != plan.id:
            log.warning(
                "invoice %s bills %s but its metadata names %s: the price decides",
                invoice_id,
                plan.id,
                claimed,
            )
        amount_paid = cents(invoice.get("amount_paid")) or 0
        grants = opens_period and (amount_paid > 0 or plan.grants_on_free_invoice)
        credits = plan.included_credits if grants else 0
        async with self.db.transaction() as tx:
            user_id = await self._user(tx, invoice.get("customer"))
            if user_id is None:
                log.warning("invoice %s not for a known customer; ignored", invoice_id)
                return
            await self.repo.insert_invoice_payment(
                tx,
                user_id,
                invoice_id=invoice_id,
                plan_id=plan.id if plan is not None else PLAN_CHANGE,
                credits=credits,
                amount_cents=amount_paid,
                intent_id=invoice_payment_intent(invoice),
            )
            if not opens_period:
                return
            await self.repo.upsert_subscription(
                tx,
                user_id=user_id,
                plan_id=plan.id,
                stripe_subscription_id=subscription_id,
                status="active",
                keep_status=True,
                period_start=timestamp(dig(line, "period", "start")),
                period_end=timestamp(dig(line, "period", "end")),
                included_credits=plan.included_credits,
            )
            await self._end_period(
                tx, user_id, f"invoice:{invoice_id}", f"period before invoice {invoice_id}"
            )
            await self.ledger.reset_overage(
                user_id,
                idempotency_key=f"invoice:{invoice_id}:overage_reset",
                note=f"new period, invoice {invoice_id}",
                tx=tx,
            )
            if credits > 0:
                await self.ledger.grant(
                    user_id,
                    credits,
                    kind="subscription_grant",
                    idempotency_key=f"invoice:{invoice_id}",
                    related_id=subscription_id,
                    note=f"{plan.name} plan, invoice {invoice_id}",
                    tx=tx,
                )
            # A period nobody paid for (a trial, a 100% coupon) runs up no overage bill.
            await self.ledger.set_overage_cap(user_id, plan.overage_cap if grants else 0, tx=tx)

    async def invoice_payment_failed(self, invoice: dict) -> None:
        """Stripe retries the invoice (dunning) and its subscription events follow; until then
        the subscription is past due: the ended period's plan credits expire, no overage."""
        subscription_id, invoice_id = invoice_subscription(invoice), object_id(invoice.get("id"))
        if not subscription_id or not invoice_id:
            return
        async with self.db.transaction() as tx:
            if await self.repo.invoice_payment(tx, invoice_id) is not None:
                return  # paid on a retry already; this event arrived late
            await self.repo.set_subscription_status(tx, subscription_id, "past_due")
            user_id = await self._user(tx, invoice.get("customer"))
            if user_id is not None:
                await self._end_period(
                    tx, user_id, f"invoice:{invoice_id}:unpaid", f"invoice {invoice_id} unpaid"
                )

    async def expire_ended_periods(self, now: datetime) -> int:
        """Plan credits expire at their period's end, whether or not a Stripe event says so
        (a renewal not paid by then, a cancellation whose event is late or lost): the periodic
        sweep (`run_period_sweeps`) calls this. Each account is ended in its own transaction;
        the ledger decides on the locked buckets, so two sweeps never expire twice. How many
        accounts it ended."""
        async with self.db.connection() as conn:
            ended = await self.repo.ended_periods(conn, now, SWEEP_BATCH)
        for period in ended:
            key = f"period:{period.stripe_subscription_id}:{int(period.current_period_end.timestamp())}"
            async with self.db.transaction() as tx:
                await self._end_period(
                    tx,
                    period.user_id,
                    f"{key}:after:{period.last_seq or 0}",
                    f"period ended {period.current_period_end:%Y-%m-%d %H:%M} UTC, no renewal paid",
                )
        return len(ended)

    async def _end_period(self, tx, user_id: UUID, key: str, why: str) -> None:
        """The current period's plan credits expire and overage stops until a paid invoice
        opens the next period."""
        await self.ledger.expire_plan_credits(user_id, idempotency_key=f"{key}:expiry", note=why, tx=tx)
        await self.ledger.set_overage_cap(user_id, 0, tx=tx)

    # -- metered overage ------------------------------------------------------------------

    def register(self, registry: OutboxRegistry) -> None:
        registry.register(OVERAGE_TASK, self._report_task)

    async def _report_task(self, payload: dict) -> None:
        await self.report_overage(
            UUID(payload["user_id"]),
            UUID(payload["job_id"]),
            payload["credits_charged"],
            extension=payload.get("extension", 0),  # tasks queued before extensions were metered
        )

    async def report_overage(
        self, user_id: UUID, job_id: UUID, credits_charged: int, *, extension: int = 0
    ) -> MeterReport | None:
        """Send what a charged round of a job (its first run, or its nth `extension`) drew beyond
        its subscriber's buckets to the Billing Meter, identified by job and round so a retry never
        double-reports. The charge is drawn in the reservation's order, so the overage is what it
        charged beyond the credits the round's reservation took from the buckets. None when the
        user has no current subscription. Raises `PaymentProviderError` when Stripe did not take
        it (the row stays unreported)."""
        if credits_charged <= 0:
            return None
        reservation = await self.ledger.entry(f"{job_round(job_id, extension)}:reserve")
        from_buckets = -reservation.delta if reservation is not None else credits_charged
        async with self.db.transaction() as tx:
            subscription = await self.repo.current_subscription(tx, user_id)
            if subscription is None:
                return None
            await self.repo.insert_meter_report(
                tx,
                job_id=job_id,
                extension=extension,
                user_id=user_id,
                stripe_subscription_id=subscription.stripe_subscription_id,
                period_start=subscription.current_period_start,
                credits_charged=credits_charged,
                overage_credits=max(0, credits_charged - from_buckets),
            )
            report = await self.repo.meter_report(tx, job_id, extension)
            customer = await self.repo.customer(tx, user_id)
        if report.overage_credits == 0 or report.reported_at is not None:
            return report
        if not self.settings.stripe_secret_key or not customer.stripe_customer_id:
            log.warning("overage of job %s kept unreported: Stripe is not configured", job_id)
            return report
        await stripe_gateway(self.settings).report_meter_event(
            event_name=catalog().meter_event_name,
            customer_id=customer.stripe_customer_id,
            value=report.overage_credits,
            identifier=overage_identifier(job_id, extension),
        )
        async with self.db.connection() as conn:
            await self.repo.mark_meter_reported(conn, job_id, extension)
            return await self.repo.meter_report(conn, job_id, extension)

    # -- helpers ----------------------------------------------------------------------------

    async def _user(self, conn, customer: object) -> UUID | None:
        """The Stripe customer decides whose subscription it is (we create one per user)."""
        customer_id = object_id(customer)
        found = await self.repo.customer_by_stripe_id(conn, customer_id) if customer_id else None
        return found.user_id if found else None


def plan_billed_by(invoice: dict) -> tuple[Plan | None, dict]:
    """The plan on the invoice's first non-proration line whose price is a plan's (other
    lines may be prorations or the metered overage price), with that line."""
    for line in dig(invoice, "lines", "data") or []:
        if isinstance(line, dict) and not is_proration(line):
            plan = catalog().plan_for_price(*line_price(line))
            if plan is not None:
                return plan, line
    return None, {}


async def run_period_sweeps(
    subscriptions: Subscriptions,
    stop: asyncio.Event,
    clock: Callable[[], float],
    every_secs: float = PERIOD_SWEEP_EVERY_SECS,
) -> None:
    """Until `stop`: expire the plan credits of periods that ended, once a minute. State lives
    in the database, so a sweep missed while no process ran is made by the next one."""
    while not stop.is_set():
        try:
            await subscriptions.expire_ended_periods(datetime.fromtimestamp(clock(), UTC))
        except Exception as exc:  # database blips: the next sweep retries
            log.warning("plan period sweep: %s", type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), every_secs)
        except TimeoutError:
            pass

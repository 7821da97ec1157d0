"""Plans: the subscription's status and period as Stripe reports them, the plan's included
credits once per paid invoice, and usage beyond them reported to a Stripe Billing Meter.

Since API 2025-03-31 an invoice names its subscription under `parent.subscription_details`
and periods live on subscription items; older payloads are read too."""

from __future__ import annotations

import logging
from uuid import UUID

from billing.catalog import Plan, catalog
from billing.repository import BillingRepository, MeterReport
from billing.stripe_gateway import PaymentProviderError, stripe_gateway
from billing.stripe_objects import dig, object_id, timestamp
from core.db import Database
from core.settings import Settings
from ledger import LedgerService

log = logging.getLogger(__name__)

# Invoices that open a period. Others (prorations on a plan change, manual invoices) grant
# nothing, so changing plan mid-period never hands out a second month of credits.
GRANTING_INVOICE_REASONS = {"subscription_create", "subscription_cycle"}


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
        """`customer.subscription.created` / `updated` / `deleted` and Checkout's session."""
        item = dig(subscription, "items", "data", 0) or {}
        plan = self._plan(dig(subscription, "metadata", "plan_id"), object_id(item.get("price")))
        async with self.db.transaction() as tx:
            user_id = await self._user(tx, subscription.get("customer"))
            if plan is None or user_id is None or not subscription.get("id"):
                log.warning("subscription %s not for a known user and plan; ignored", subscription.get("id"))
                return
            await self.repo.upsert_subscription(
                tx,
                user_id=user_id,
                plan_id=plan.id,
                stripe_subscription_id=subscription["id"],
                status="canceled" if deleted else str(subscription.get("status") or "incomplete"),
                period_start=timestamp(
                    item.get("current_period_start") or subscription.get("current_period_start")
                ),
                period_end=timestamp(
                    item.get("current_period_end") or subscription.get("current_period_end")
                ),
                included_credits=plan.included_credits,
            )

    async def invoice_paid(self, invoice: dict) -> None:
        """Grant the plan's included credits, once per invoice (ledger key `invoice:{id}`)."""
        subscription_id = object_id(
            dig(invoice, "parent", "subscription_details", "subscription") or invoice.get("subscription")
        )
        if not subscription_id or invoice.get("billing_reason") not in GRANTING_INVOICE_REASONS:
            return
        metadata = dig(invoice, "parent", "subscription_details", "metadata") or {}
        line = dig(invoice, "lines", "data", 0) or {}
        price_id = object_id(dig(line, "pricing", "price_details", "price") or line.get("price"))
        plan = self._plan(metadata.get("plan_id"), price_id)
        async with self.db.transaction() as tx:
            user_id = await self._user(tx, invoice.get("customer"))
            if plan is None or user_id is None:
                log.warning("invoice %s not for a known user and plan; ignored", invoice.get("id"))
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
            if plan.included_credits > 0:
                await self.ledger.grant(
                    user_id,
                    plan.included_credits,
                    kind="subscription_grant",
                    idempotency_key=f"invoice:{invoice['id']}",
                    related_id=subscription_id,
                    note=f"{plan.name} plan, invoice {invoice['id']}",
                    tx=tx,
                )

    async def invoice_payment_failed(self, invoice: dict) -> None:
        """Stripe retries the invoice (dunning) and its subscription events follow; until then
        the subscription is past due and grants nothing."""
        subscription_id = object_id(
            dig(invoice, "parent", "subscription_details", "subscription") or invoice.get("subscription")
        )
        if subscription_id:
            async with self.db.connection() as conn:
                await self.repo.set_subscription_status(conn, subscription_id, "past_due")

    # -- metered overage ------------------------------------------------------------------

    async def report_overage(self, user_id: UUID, job_id: UUID, credits_charged: int) -> MeterReport | None:
        """Count a charged job against its subscriber's period and send what exceeds the
        included credits to the Billing Meter, identified by the job so a retry never
        double-reports. None when the user has no current subscription."""
        if credits_charged <= 0:
            return None
        async with self.db.transaction() as tx:
            subscription = await self.repo.lock_current_subscription(tx, user_id)
            if subscription is None:
                return None
            report = await self.repo.meter_report(tx, job_id)
            if report is None:
                used = await self.repo.period_usage(
                    tx, subscription.stripe_subscription_id, subscription.current_period_start
                )
                included = subscription.included_credits
                overage = max(0, used + credits_charged - included) - max(0, used - included)
                await self.repo.insert_meter_report(
                    tx,
                    job_id=job_id,
                    user_id=user_id,
                    stripe_subscription_id=subscription.stripe_subscription_id,
                    period_start=subscription.current_period_start,
                    credits_charged=credits_charged,
                    overage_credits=overage,
                )
                report = await self.repo.meter_report(tx, job_id)
            customer = await self.repo.customer(tx, user_id)
        if report.overage_credits == 0 or report.reported_at is not None:
            return report
        if not self.settings.stripe_secret_key or not customer.stripe_customer_id:
            log.warning("overage of job %s kept unreported: Stripe is not configured", job_id)
            return report
        try:
            await stripe_gateway(self.settings).report_meter_event(
                event_name=catalog().meter_event_name,
                customer_id=customer.stripe_customer_id,
                value=report.overage_credits,
                identifier=f"overage:{job_id}",
            )
        except PaymentProviderError:
            return report  # kept unreported; reporting the same job again retries it
        async with self.db.connection() as conn:
            await self.repo.mark_meter_reported(conn, job_id)
            return await self.repo.meter_report(conn, job_id)

    # -- helpers ----------------------------------------------------------------------------

    async def _user(self, conn, customer: object) -> UUID | None:
        """The Stripe customer decides whose subscription it is (we create one per user)."""
        customer_id = object_id(customer)
        found = await self.repo.customer_by_stripe_id(conn, customer_id) if customer_id else None
        return found.user_id if found else None

    @staticmethod
    def _plan(plan_id: object, price_id: str | None) -> Plan | None:
        return catalog().plan(str(plan_id)) if plan_id else catalog().plan_for_price(price_id or "")


async def report_overage(
    db: Database, settings: Settings, user_id: UUID, job_id: UUID, credits_charged: int
) -> MeterReport | None:
    """Hook for job settlement: call after a job is charged. Never raises: the charge stands
    whatever happens to the report (an unreported row is retried by calling again)."""
    try:
        return await Subscriptions(db, settings).report_overage(user_id, job_id, credits_charged)
    except Exception:
        log.exception("overage report for job %s failed", job_id)
        return None

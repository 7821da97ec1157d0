"""Auto top-up: when a debit leaves the balance below the account's threshold, charge the saved
card off-session for the chosen pack. At most one top-up is pending per account (a partial
unique index); credits arrive with `payment_intent.succeeded`; a decline turns auto top-up off
and emails the user, once, whichever of the API answer or the webhook reports it first."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from billing.catalog import catalog
from billing.payments import Payments
from billing.repository import BillingRepository, Payment
from billing.stripe_gateway import PaymentProviderError, stripe_gateway
from billing.stripe_objects import dig, object_id, uuid_or_none
from core import outbox
from core.db import Database, Tx
from core.mail import Mailer
from core.outbox import OutboxRegistry
from core.settings import Settings

log = logging.getLogger(__name__)

STALE_TOPUP_AFTER = timedelta(hours=1)  # a pending top-up this old no longer blocks the next
AUTO_TOPUP_TASK = "billing.auto_topup"


def auto_topup_cte(*, source: str, cause: str) -> str:
    """`WITH` items (`auto_topup`, read `auto_topup_notified`) for a statement that debits: when
    the debit left the balance below the account's threshold, the outbox starts a top-up after
    commit. `source` names the debited account `a` (with its balance after the debit and its
    auto top-up settings); `cause` (SQL, say the job's key) makes the task unique."""
    return outbox.enqueue_cte(
        "auto_topup",
        kind=AUTO_TOPUP_TASK,
        payload="jsonb_build_object('user_id', a.user_id::text)",
        key=f"'auto_topup:' || {cause}",
        source=f"{source} WHERE a.auto_topup_enabled AND a.balance < a.auto_topup_threshold",
    )


async def enqueue_auto_topup(tx: Tx, user_id: UUID, *, cause: str) -> None:
    """Inside the transaction of a debit: when it left the balance below the account's threshold,
    the outbox starts a top-up after commit. `cause` (say `job:{id}`) makes the task unique."""
    await tx.execute(
        f"""WITH account AS (
    SELECT user_id, balance, auto_topup_enabled, auto_topup_threshold FROM credit_accounts WHERE user_id = %(user_id)s
), {auto_topup_cte(source="account a", cause="%(cause)s")}
SELECT sent FROM auto_topup_notified""",
        {"user_id": user_id, "cause": cause},
    )


class AutoTopup:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        mailer: Mailer,
        payments: Payments | None = None,
        repo: BillingRepository | None = None,
    ):
        self.db = db
        self.settings = settings
        self.mailer = mailer
        self.payments = payments or Payments(db)
        self.repo = repo or BillingRepository()

    def register(self, registry: OutboxRegistry) -> None:
        registry.register(AUTO_TOPUP_TASK, self._topup_task)

    async def _topup_task(self, payload: dict) -> None:
        """Run at least once: the one-pending-per-account index and the charge's idempotency key
        (`auto_topup:{payment id}`) keep a rerun from charging twice."""
        await self.maybe_trigger(UUID(payload["user_id"]))

    async def maybe_trigger(self, user_id: UUID) -> Payment | None:
        """Start a top-up if the account wants one now; the pending payment, or None."""
        async with self.db.connection() as conn:
            account = await self.repo.auto_topup(conn, user_id)
        if account is None or not account.enabled or account.balance >= account.threshold_credits:
            return None
        pack = catalog().pack(account.pack_id or "")
        if pack is None or not self.settings.stripe_secret_key:
            log.warning(
                "auto top-up for %s skipped: %s",
                user_id,
                "pack no longer sold" if pack is None else "Stripe is not configured",
            )
            return None
        async with self.db.connection() as conn:
            await self.repo.abandon_stale_topup(conn, user_id, STALE_TOPUP_AFTER)
            payment = await self.repo.insert_payment(
                conn,
                user_id,
                kind="auto_topup",
                pack_id=pack.id,
                credits=pack.credits,
                amount_cents=pack.price_cents,
            )
        if payment is None:
            return None  # one is already on its way
        gateway = stripe_gateway(self.settings)
        try:
            card = (
                await gateway.saved_card(account.stripe_customer_id) if account.stripe_customer_id else None
            )
            if card is None:
                await self.fail(payment.id, "no saved card: buy a pack once to save one")
                return payment
            charge = await gateway.charge_off_session(
                customer_id=account.stripe_customer_id,
                payment_method_id=card,
                amount_cents=pack.price_cents,
                currency=catalog().currency,
                description=f"Infrence auto top-up: {pack.name}",
                metadata={"payment_id": str(payment.id), "user_id": str(user_id), "kind": "auto_topup"},
                idempotency_key=f"auto_topup:{payment.id}",
            )
        except PaymentProviderError:
            # Stripe unreachable: this attempt ends, auto top-up stays on, the next debit retries.
            # Should the charge have gone through after all, its webhook still credits it.
            await self.payments.end_pending(
                payment.id, status="failed", reason="payment provider unavailable"
            )
            return payment
        if charge.payment_intent_id:
            async with self.db.connection() as conn:
                await self.repo.attach_payment_intent(conn, payment.id, charge.payment_intent_id)
        if charge.declined:
            await self.fail(payment.id, charge.failure_reason or "card declined")
        return payment

    async def fail(self, payment_id: UUID, reason: str) -> None:
        """End a pending top-up as failed, turn auto top-up off and tell the user — only the
        first report of the failure does the last two."""
        async with self.db.transaction() as tx:
            payment = await self.repo.end_pending_payment(tx, payment_id, status="failed", reason=reason)
            if payment is None:
                return
            await self.repo.disable_auto_topup(tx, payment.user_id)
            customer = await self.repo.customer(tx, payment.user_id)
            message = await self.mailer.enqueue(
                tx,
                "topup_failed",
                customer.email,
                credits=f"{payment.pack_credits:,}",
                reason=reason.replace("_", " "),
            )
        self.mailer.dispatch(message)

    # -- webhooks -------------------------------------------------------------------------

    async def intent_succeeded(self, intent: dict) -> None:
        payment_id = self._payment_id(intent)
        if payment_id is not None:
            await self.payments.credit_paid(payment_id, intent_id=object_id(intent.get("id")))

    async def intent_failed(self, intent: dict) -> None:
        payment_id = self._payment_id(intent)
        if payment_id is not None:
            error = intent.get("last_payment_error") or {}
            await self.fail(payment_id, error.get("decline_code") or error.get("code") or "payment failed")

    @staticmethod
    def _payment_id(intent: dict) -> UUID | None:
        """Only our off-session top-ups; Checkout's own PaymentIntents are settled by the session."""
        if dig(intent, "metadata", "kind") != "auto_topup":
            return None
        return uuid_or_none(dig(intent, "metadata", "payment_id"))


async def maybe_auto_topup(
    db: Database, settings: Settings, user_id: UUID, *, mailer: Mailer | None = None
) -> Payment | None:
    """Check for a top-up now, outside the outbox (admin tools, tests). Cheap when nothing is due
    (one query). Never raises: the debit it follows has already happened."""
    try:
        return await AutoTopup(db, settings, mailer or Mailer(db, settings)).maybe_trigger(user_id)
    except Exception:
        log.exception("auto top-up check for %s failed", user_id)
        return None

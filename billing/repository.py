"""SQL for billing: Stripe customers, payments, subscriptions, stored Stripe events, auto
top-up settings and metered usage. Every method runs on the connection it is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from core.db import Tx


@dataclass(frozen=True, slots=True)
class Customer:
    user_id: UUID
    email: str
    stripe_customer_id: str | None


@dataclass(frozen=True, slots=True)
class Payment:
    id: UUID
    user_id: UUID
    kind: str
    pack_id: str
    pack_credits: int
    pack_amount_cents: int
    status: str
    stripe_checkout_session_id: str | None
    stripe_payment_intent_id: str | None
    refunded_cents: int
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    stripe_invoice_id: str | None
    clawback_shortfall_credits: int


@dataclass(frozen=True, slots=True)
class AutoTopupSettings:
    user_id: UUID
    email: str
    balance: int
    enabled: bool
    threshold_credits: int
    pack_id: str | None
    stripe_customer_id: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: UUID
    user_id: UUID
    plan_id: str
    stripe_subscription_id: str
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    included_credits: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    event_type: str
    payload: str | None
    received_at: datetime
    processed_at: datetime | None
    attempts: int
    last_error: str | None
    dead_at: datetime | None = None  # its outbox task gave up retrying


@dataclass(frozen=True, slots=True)
class MeterReport:
    job_id: UUID
    extension: int  # 0: the job's first run; n: its nth extension
    user_id: UUID
    stripe_subscription_id: str
    period_start: datetime
    credits_charged: int
    overage_credits: int
    created_at: datetime
    reported_at: datetime | None


# Users / customers ------------------------------------------------------------------------

CUSTOMER_SQL = "SELECT id AS user_id, email, stripe_customer_id FROM users WHERE id = %(user_id)s"

CUSTOMER_BY_STRIPE_ID_SQL = """
SELECT id AS user_id, email, stripe_customer_id FROM users WHERE stripe_customer_id = %(customer_id)s
"""

# First writer wins: a concurrent checkout that created the same customer keeps the first id.
SET_CUSTOMER_SQL = """
UPDATE users SET stripe_customer_id = coalesce(stripe_customer_id, %(customer_id)s), updated_at = now()
WHERE id = %(user_id)s
RETURNING stripe_customer_id
"""

FLAG_USER_SQL = """
UPDATE users SET flagged_at = coalesce(flagged_at, now()), flagged_reason = %(reason)s, updated_at = now()
WHERE id = %(user_id)s
"""

# Payments ---------------------------------------------------------------------------------

INSERT_PAYMENT_SQL = """
INSERT INTO payments (user_id, kind, pack_id, pack_credits, pack_amount_cents)
VALUES (%(user_id)s, %(kind)s, %(pack_id)s, %(credits)s, %(amount_cents)s)
ON CONFLICT (user_id) WHERE kind = 'auto_topup' AND status = 'pending' DO NOTHING
RETURNING *
"""

# A top-up Stripe never answered about stops blocking the next one. Should Stripe report it
# paid later after all, the webhook still credits it (see SUCCEED_PAYMENT_SQL).
ABANDON_STALE_TOPUP_SQL = """
UPDATE payments SET status = 'failed', failure_reason = 'no answer from Stripe', completed_at = now()
WHERE user_id = %(user_id)s AND kind = 'auto_topup' AND status = 'pending' AND created_at < now() - %(age)s
"""

ATTACH_SESSION_SQL = """
UPDATE payments SET stripe_checkout_session_id = %(session_id)s WHERE id = %(payment_id)s
"""

ATTACH_INTENT_SQL = """
UPDATE payments SET stripe_payment_intent_id = coalesce(stripe_payment_intent_id, %(intent_id)s)
WHERE id = %(payment_id)s
"""

PAYMENT_SQL = "SELECT * FROM payments WHERE id = %(payment_id)s"

INVOICE_PAYMENT_SQL = "SELECT * FROM payments WHERE stripe_invoice_id = %(invoice_id)s"

PAYMENT_BY_INTENT_SQL = "SELECT * FROM payments WHERE stripe_payment_intent_id = %(intent_id)s"

LOCK_PAYMENT_BY_INTENT_SQL = PAYMENT_BY_INTENT_SQL + " FOR UPDATE"

# A payment Stripe says succeeded is succeeded, even after we gave up on it (a late webhook).
SUCCEED_PAYMENT_SQL = """
UPDATE payments SET status = 'succeeded', completed_at = coalesce(completed_at, now()),
    failure_reason = NULL
WHERE id = %(payment_id)s AND status IN ('pending', 'failed', 'expired')
"""

# Only a pending payment can fail or expire; RETURNING tells the caller it made the change.
END_PENDING_PAYMENT_SQL = """
UPDATE payments SET status = %(status)s, failure_reason = %(reason)s, completed_at = now()
WHERE id = %(payment_id)s AND status = 'pending'
RETURNING *
"""

RECORD_REFUND_SQL = """
UPDATE payments SET refunded_cents = greatest(refunded_cents, %(refunded_cents)s),
    status = CASE WHEN greatest(refunded_cents, %(refunded_cents)s) >= pack_amount_cents
                  THEN 'refunded' ELSE status END
WHERE id = %(payment_id)s
"""

# A paid subscription invoice, once (Stripe may deliver `invoice.paid` more than once).
INSERT_INVOICE_PAYMENT_SQL = """
INSERT INTO payments (user_id, kind, pack_id, pack_credits, pack_amount_cents, status,
                      stripe_payment_intent_id, stripe_invoice_id, completed_at)
VALUES (%(user_id)s, 'subscription', %(plan_id)s, %(credits)s, %(amount_cents)s, 'succeeded',
        %(intent_id)s, %(invoice_id)s, now())
ON CONFLICT (stripe_invoice_id) DO NOTHING
"""

ADD_CLAWBACK_SHORTFALL_SQL = """
UPDATE payments SET clawback_shortfall_credits = clawback_shortfall_credits + %(credits)s
WHERE id = %(payment_id)s
"""

PAYMENTS_OF_USER_SQL = """
SELECT * FROM payments WHERE user_id = %(user_id)s ORDER BY created_at DESC, id DESC LIMIT %(limit)s
"""

# Auto top-up ------------------------------------------------------------------------------

AUTO_TOPUP_SQL = """
SELECT u.id AS user_id, u.email, u.stripe_customer_id, coalesce(a.balance, 0) AS balance,
       coalesce(a.auto_topup_enabled, false) AS enabled,
       coalesce(a.auto_topup_threshold, 0) AS threshold_credits, a.auto_topup_pack_id AS pack_id
FROM users u LEFT JOIN credit_accounts a ON a.user_id = u.id
WHERE u.id = %(user_id)s
"""

SET_AUTO_TOPUP_SQL = """
INSERT INTO credit_accounts AS a (user_id, auto_topup_enabled, auto_topup_threshold, auto_topup_pack_id)
VALUES (%(user_id)s, %(enabled)s, %(threshold)s, %(pack_id)s)
ON CONFLICT (user_id) DO UPDATE SET auto_topup_enabled = EXCLUDED.auto_topup_enabled,
    auto_topup_threshold = EXCLUDED.auto_topup_threshold,
    auto_topup_pack_id = EXCLUDED.auto_topup_pack_id, updated_at = now()
"""

DISABLE_AUTO_TOPUP_SQL = """
UPDATE credit_accounts SET auto_topup_enabled = false, updated_at = now() WHERE user_id = %(user_id)s
"""

# Subscriptions ----------------------------------------------------------------------------

UPSERT_SUBSCRIPTION_SQL = """
INSERT INTO subscriptions AS s (user_id, plan_id, stripe_subscription_id, status, current_period_start,
                                current_period_end, included_credits)
VALUES (%(user_id)s, %(plan_id)s, %(stripe_subscription_id)s, %(status)s, %(period_start)s,
        %(period_end)s, %(included_credits)s)
ON CONFLICT (stripe_subscription_id) DO UPDATE SET
    plan_id = EXCLUDED.plan_id,
    status = CASE WHEN %(keep_status)s THEN s.status ELSE EXCLUDED.status END,
    current_period_start = greatest(EXCLUDED.current_period_start, s.current_period_start),
    current_period_end = greatest(EXCLUDED.current_period_end, s.current_period_end),
    included_credits = EXCLUDED.included_credits, updated_at = now()
RETURNING *
"""

SET_SUBSCRIPTION_STATUS_SQL = """
UPDATE subscriptions SET status = %(status)s, updated_at = now()
WHERE stripe_subscription_id = %(stripe_subscription_id)s
"""

# The subscription that meters usage right now.
CURRENT_SUBSCRIPTION_SQL = """
SELECT * FROM subscriptions
WHERE user_id = %(user_id)s AND status IN ('active', 'trialing', 'past_due')
  AND current_period_start IS NOT NULL
ORDER BY current_period_start DESC LIMIT 1
"""

# Accounts still holding plan credits (or an overage allowance) whose latest period has ended:
# no renewal was paid by its end. `last_seq` makes each sweep's ledger key its own.
ENDED_PERIODS_SQL = """
SELECT latest.* FROM (
    SELECT DISTINCT ON (s.user_id) s.user_id, s.stripe_subscription_id, s.current_period_end,
        (SELECT max(l.seq) FROM credit_ledger l WHERE l.user_id = s.user_id) AS last_seq
    FROM subscriptions s JOIN credit_accounts a ON a.user_id = s.user_id
    WHERE (a.plan_credits > 0 OR a.overage_cap > 0) AND s.current_period_end IS NOT NULL
    ORDER BY s.user_id, s.current_period_end DESC
) latest
WHERE latest.current_period_end <= %(now)s
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class EndedPeriod:
    user_id: UUID
    stripe_subscription_id: str
    current_period_end: datetime
    last_seq: int | None


# Stripe events ----------------------------------------------------------------------------

STORE_EVENT_SQL = """
INSERT INTO stripe_events (id, event_type, payload) VALUES (%(id)s, %(event_type)s, %(payload)s)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

EVENT_SQL = "SELECT * FROM stripe_events WHERE id = %(id)s"

EVENTS_PAGE_SQL = """
SELECT * FROM stripe_events ORDER BY received_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s
"""

MARK_EVENT_HANDLED_SQL = """
UPDATE stripe_events SET attempts = attempts + 1, processed_at = now(), last_error = NULL,
    dead_at = NULL
WHERE id = %(id)s
"""

MARK_EVENT_FAILED_SQL = """
UPDATE stripe_events SET attempts = attempts + 1, last_error = %(error)s WHERE id = %(id)s
"""

MARK_EVENT_DEAD_SQL = "UPDATE stripe_events SET dead_at = now() WHERE id = %(id)s AND processed_at IS NULL"

# Metered overage --------------------------------------------------------------------------

INSERT_METER_REPORT_SQL = """
INSERT INTO meter_reports (job_id, extension, user_id, stripe_subscription_id, period_start,
                           credits_charged, overage_credits)
VALUES (%(job_id)s, %(extension)s, %(user_id)s, %(stripe_subscription_id)s, %(period_start)s,
        %(credits_charged)s, %(overage_credits)s)
ON CONFLICT (job_id, extension) DO NOTHING
"""

METER_REPORT_SQL = "SELECT * FROM meter_reports WHERE job_id = %(job_id)s AND extension = %(extension)s"

MARK_METER_REPORTED_SQL = """
UPDATE meter_reports SET reported_at = now() WHERE job_id = %(job_id)s AND extension = %(extension)s
"""


class BillingRepository:
    # -- customers ----------------------------------------------------------------------

    async def customer(self, conn: Tx, user_id: UUID) -> Customer | None:
        return await self._one(conn, CUSTOMER_SQL, {"user_id": user_id}, Customer)

    async def customer_by_stripe_id(self, conn: Tx, customer_id: str) -> Customer | None:
        return await self._one(conn, CUSTOMER_BY_STRIPE_ID_SQL, {"customer_id": customer_id}, Customer)

    async def set_stripe_customer(self, conn: Tx, user_id: UUID, customer_id: str) -> str:
        """The user's Stripe customer id after this call (the first one ever stored)."""
        cur = await conn.execute(SET_CUSTOMER_SQL, {"user_id": user_id, "customer_id": customer_id})
        return (await cur.fetchone())["stripe_customer_id"]

    async def flag_user(self, conn: Tx, user_id: UUID, reason: str) -> None:
        await conn.execute(FLAG_USER_SQL, {"user_id": user_id, "reason": reason})

    # -- payments -----------------------------------------------------------------------

    async def insert_payment(
        self, conn: Tx, user_id: UUID, *, kind: str, pack_id: str, credits: int, amount_cents: int
    ) -> Payment | None:
        """The new pending payment; None for an auto top-up when one is already pending."""
        return await self._one(
            conn,
            INSERT_PAYMENT_SQL,
            {
                "user_id": user_id,
                "kind": kind,
                "pack_id": pack_id,
                "credits": credits,
                "amount_cents": amount_cents,
            },
            Payment,
        )

    async def abandon_stale_topup(self, conn: Tx, user_id: UUID, age: timedelta) -> None:
        await conn.execute(ABANDON_STALE_TOPUP_SQL, {"user_id": user_id, "age": age})

    async def attach_checkout_session(self, conn: Tx, payment_id: UUID, session_id: str) -> None:
        await conn.execute(ATTACH_SESSION_SQL, {"payment_id": payment_id, "session_id": session_id})

    async def attach_payment_intent(self, conn: Tx, payment_id: UUID, intent_id: str) -> None:
        await conn.execute(ATTACH_INTENT_SQL, {"payment_id": payment_id, "intent_id": intent_id})

    async def payment(self, conn: Tx, payment_id: UUID) -> Payment | None:
        return await self._one(conn, PAYMENT_SQL, {"payment_id": payment_id}, Payment)

    async def invoice_payment(self, conn: Tx, invoice_id: str) -> Payment | None:
        return await self._one(conn, INVOICE_PAYMENT_SQL, {"invoice_id": invoice_id}, Payment)

    async def payment_by_intent(self, conn: Tx, intent_id: str) -> Payment | None:
        return await self._one(conn, PAYMENT_BY_INTENT_SQL, {"intent_id": intent_id}, Payment)

    async def lock_payment_by_intent(self, conn: Tx, intent_id: str) -> Payment | None:
        return await self._one(conn, LOCK_PAYMENT_BY_INTENT_SQL, {"intent_id": intent_id}, Payment)

    async def mark_payment_succeeded(self, conn: Tx, payment_id: UUID) -> None:
        await conn.execute(SUCCEED_PAYMENT_SQL, {"payment_id": payment_id})

    async def end_pending_payment(
        self, conn: Tx, payment_id: UUID, *, status: str, reason: str | None
    ) -> Payment | None:
        """Move a pending payment to failed/expired; None when it was no longer pending."""
        return await self._one(
            conn,
            END_PENDING_PAYMENT_SQL,
            {"payment_id": payment_id, "status": status, "reason": reason},
            Payment,
        )

    async def record_refund(self, conn: Tx, payment_id: UUID, refunded_cents: int) -> None:
        await conn.execute(RECORD_REFUND_SQL, {"payment_id": payment_id, "refunded_cents": refunded_cents})

    async def insert_invoice_payment(
        self,
        conn: Tx,
        user_id: UUID,
        *,
        invoice_id: str,
        plan_id: str,
        credits: int,
        amount_cents: int,
        intent_id: str | None,
    ) -> None:
        await conn.execute(
            INSERT_INVOICE_PAYMENT_SQL,
            {
                "user_id": user_id,
                "invoice_id": invoice_id,
                "plan_id": plan_id,
                "credits": credits,
                "amount_cents": amount_cents,
                "intent_id": intent_id,
            },
        )

    async def add_clawback_shortfall(self, conn: Tx, payment_id: UUID, credits: int) -> None:
        await conn.execute(ADD_CLAWBACK_SHORTFALL_SQL, {"payment_id": payment_id, "credits": credits})

    async def payments_of(self, conn: Tx, user_id: UUID, *, limit: int) -> list[Payment]:
        return await self._all(conn, PAYMENTS_OF_USER_SQL, {"user_id": user_id, "limit": limit}, Payment)

    # -- auto top-up --------------------------------------------------------------------

    async def auto_topup(self, conn: Tx, user_id: UUID) -> AutoTopupSettings | None:
        return await self._one(conn, AUTO_TOPUP_SQL, {"user_id": user_id}, AutoTopupSettings)

    async def set_auto_topup(
        self, conn: Tx, user_id: UUID, *, enabled: bool, threshold: int, pack_id: str
    ) -> None:
        await conn.execute(
            SET_AUTO_TOPUP_SQL,
            {"user_id": user_id, "enabled": enabled, "threshold": threshold, "pack_id": pack_id},
        )

    async def disable_auto_topup(self, conn: Tx, user_id: UUID) -> None:
        await conn.execute(DISABLE_AUTO_TOPUP_SQL, {"user_id": user_id})

    # -- subscriptions ------------------------------------------------------------------

    async def upsert_subscription(
        self,
        conn: Tx,
        *,
        user_id: UUID,
        plan_id: str,
        stripe_subscription_id: str,
        status: str,
        period_start: datetime | None,
        period_end: datetime | None,
        included_credits: int,
        keep_status: bool = False,
    ) -> Subscription:
        """Insert or update. Periods only move forward (events arrive in any order); the status
        is kept with `keep_status` (facts that imply a status only for a new row)."""
        return await self._one(
            conn,
            UPSERT_SUBSCRIPTION_SQL,
            {
                "user_id": user_id,
                "plan_id": plan_id,
                "stripe_subscription_id": stripe_subscription_id,
                "status": status,
                "period_start": period_start,
                "period_end": period_end,
                "included_credits": included_credits,
                "keep_status": keep_status,
            },
            Subscription,
        )

    async def set_subscription_status(self, conn: Tx, stripe_subscription_id: str, status: str) -> None:
        await conn.execute(
            SET_SUBSCRIPTION_STATUS_SQL, {"stripe_subscription_id": stripe_subscription_id, "status": status}
        )

    async def current_subscription(self, conn: Tx, user_id: UUID) -> Subscription | None:
        return await self._one(conn, CURRENT_SUBSCRIPTION_SQL, {"user_id": user_id}, Subscription)

    async def ended_periods(self, conn: Tx, now: datetime, limit: int) -> list[EndedPeriod]:
        cur = await conn.execute(ENDED_PERIODS_SQL, {"now": now, "limit": limit})
        return [EndedPeriod(**row) for row in await cur.fetchall()]

    # -- stripe events ------------------------------------------------------------------

    async def store_event(self, conn: Tx, *, event_id: str, event_type: str, payload: str) -> bool:
        """True when this is the first delivery of the event."""
        cur = await conn.execute(
            STORE_EVENT_SQL, {"id": event_id, "event_type": event_type, "payload": payload}
        )
        return await cur.fetchone() is not None

    async def event(self, conn: Tx, event_id: str) -> StoredEvent | None:
        return await self._one(conn, EVENT_SQL, {"id": event_id}, StoredEvent)

    async def events_page(self, conn: Tx, *, limit: int, offset: int) -> list[StoredEvent]:
        return await self._all(conn, EVENTS_PAGE_SQL, {"limit": limit, "offset": offset}, StoredEvent)

    async def mark_event_handled(self, conn: Tx, event_id: str) -> None:
        await conn.execute(MARK_EVENT_HANDLED_SQL, {"id": event_id})

    async def mark_event_failed(self, conn: Tx, event_id: str, error: str) -> None:
        await conn.execute(MARK_EVENT_FAILED_SQL, {"id": event_id, "error": error})

    async def mark_event_dead(self, conn: Tx, event_id: str) -> None:
        await conn.execute(MARK_EVENT_DEAD_SQL, {"id": event_id})

    # -- metered overage ----------------------------------------------------------------

    async def insert_meter_report(
        self,
        conn: Tx,
        *,
        job_id: UUID,
        extension: int,
        user_id: UUID,
        stripe_subscription_id: str,
        period_start: datetime,
        credits_charged: int,
        overage_credits: int,
    ) -> None:
        await conn.execute(
            INSERT_METER_REPORT_SQL,
            {
                "job_id": job_id,
                "extension": extension,
                "user_id": user_id,
                "stripe_subscription_id": stripe_subscription_id,
                "period_start": period_start,
                "credits_charged": credits_charged,
                "overage_credits": overage_credits,
            },
        )

    async def meter_report(self, conn: Tx, job_id: UUID, extension: int = 0) -> MeterReport | None:
        """The report of one round of a job: its first run (0) or its nth extension."""
        return await self._one(
            conn, METER_REPORT_SQL, {"job_id": job_id, "extension": extension}, MeterReport
        )

    async def mark_meter_reported(self, conn: Tx, job_id: UUID, extension: int) -> None:
        await conn.execute(MARK_METER_REPORTED_SQL, {"job_id": job_id, "extension": extension})

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    async def _one(conn: Tx, sql: str, params: dict, row_type):
        cur = await conn.execute(sql, params)
        row = await cur.fetchone()
        return None if row is None else row_type(**row)

    @staticmethod
    async def _all(conn: Tx, sql: str, params: dict, row_type) -> list:
        cur = await conn.execute(sql, params)
        return [row_type(**row) for row in await cur.fetchall()]

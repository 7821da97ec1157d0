"""The life of a payment row after Stripe tells us about it: paid (credits, once), failed or
expired, refunded or lost in a dispute (claw back what is unspent, record the shortfall),
disputed (flag the account for admins).

Every credit goes through the ledger with the key `payment:{id}`, so a webhook delivered
twice, replayed by an admin, or racing another event about the same payment credits once."""

from __future__ import annotations

import logging
from uuid import UUID

from billing.repository import BillingRepository, Payment
from billing.stripe_objects import dig, object_id, uuid_or_none
from core.db import Database
from ledger import LedgerService

log = logging.getLogger(__name__)

LEDGER_KIND = {"pack": "purchase", "auto_topup": "auto_topup"}


class Payments:
    def __init__(
        self, db: Database, ledger: LedgerService | None = None, repo: BillingRepository | None = None
    ):
        self.db = db
        self.ledger = ledger or LedgerService(db)
        self.repo = repo or BillingRepository()

    async def credit_paid(self, payment_id: UUID, *, intent_id: str | None) -> Payment | None:
        """Credit the pack of a payment Stripe reports as paid, and mark it succeeded."""
        async with self.db.transaction() as tx:
            payment = await self.repo.payment(tx, payment_id)
            if payment is None:
                log.warning("paid event for unknown payment %s ignored", payment_id)
                return None
            await self.ledger.grant(
                payment.user_id,
                payment.pack_credits,
                kind=LEDGER_KIND[payment.kind],
                idempotency_key=f"payment:{payment.id}",
                related_id=payment.id,
                note=f"{payment.pack_id} ({payment.pack_amount_cents} cents)",
                tx=tx,
            )
            if intent_id:
                await self.repo.attach_payment_intent(tx, payment.id, intent_id)
            await self.repo.mark_payment_succeeded(tx, payment.id)
        return payment

    async def end_pending(self, payment_id: UUID, *, status: str, reason: str | None) -> None:
        async with self.db.connection() as conn:
            await self.repo.end_pending_payment(conn, payment_id, status=status, reason=reason)

    # -- Checkout (packs) -----------------------------------------------------------------

    async def checkout_paid(self, session: dict) -> None:
        """`checkout.session.completed` (only when already paid) and `async_payment_succeeded`."""
        payment_id = uuid_or_none(dig(session, "metadata", "payment_id"))
        if payment_id is None or session.get("payment_status") != "paid":
            return
        await self.credit_paid(payment_id, intent_id=object_id(session.get("payment_intent")))

    async def checkout_failed(self, session: dict, *, status: str, reason: str) -> None:
        payment_id = uuid_or_none(dig(session, "metadata", "payment_id"))
        if payment_id is not None:
            await self.end_pending(payment_id, status=status, reason=reason)

    # -- after the money moved ------------------------------------------------------------

    async def refunded(self, charge: dict) -> None:
        """`charge.refunded`: `amount_refunded` is cumulative, so each partial refund takes
        only its own share of the credits, and a repeat of the same refund takes nothing."""
        intent_id, refunded_cents = object_id(charge.get("payment_intent")), charge.get("amount_refunded")
        if intent_id and isinstance(refunded_cents, int) and not isinstance(refunded_cents, bool):
            await self._claw_back(intent_id, refunded_cents, why=f"refund of {refunded_cents} cents")

    async def disputed(self, dispute: dict) -> None:
        """`charge.dispute.created`: flag the account for admins; the money is only gone if
        the dispute is lost (`dispute_closed`)."""
        intent_id = object_id(dispute.get("payment_intent"))
        async with self.db.transaction() as tx:
            payment = await self.repo.payment_by_intent(tx, intent_id) if intent_id else None
            if payment is None:
                log.warning("dispute %s is not for a known payment; ignored", dispute.get("id"))
                return
            reason = (
                f"Stripe dispute {dispute.get('id')} ({dispute.get('reason') or 'no reason given'}) "
                f"on payment {payment.id}"
            )
            await self.repo.flag_user(tx, payment.user_id, reason)

    async def dispute_closed(self, dispute: dict) -> None:
        """`charge.dispute.closed`: a lost dispute takes the whole payment back, like a full refund."""
        intent_id = object_id(dispute.get("payment_intent"))
        if intent_id and dispute.get("status") == "lost":
            await self._claw_back(intent_id, None, why=f"lost dispute {dispute.get('id')}")

    async def _claw_back(self, intent_id: str, refunded_cents: int | None, *, why: str) -> None:
        """Take back the credits of the refunded share of a payment (None: all of it), never
        below zero: what was already spent is recorded as the payment's shortfall and the
        account is flagged for admins."""
        async with self.db.transaction() as tx:
            payment = await self.repo.lock_payment_by_intent(tx, intent_id)
            if payment is None:
                log.info("%s is not for a credit payment; ignored", why)
                return
            total = payment.pack_amount_cents
            refunded = total if refunded_cents is None else min(refunded_cents, total)
            if total == 0 or refunded <= payment.refunded_cents:
                return
            already = payment.pack_credits * payment.refunded_cents // total
            due = payment.pack_credits * refunded // total - already
            taken = 0
            if due > 0:
                entry = await self.ledger.clawback(
                    payment.user_id,
                    due,
                    idempotency_key=f"refund:{payment.id}:{refunded}",
                    plan_first=payment.kind == "subscription",
                    related_id=payment.id,
                    note=why,
                    tx=tx,
                )
                taken = -entry.delta if entry is not None else 0
            if taken < due:
                await self.repo.add_clawback_shortfall(tx, payment.id, due - taken)
                await self.repo.flag_user(
                    tx,
                    payment.user_id,
                    f"{due - taken} credits of payment {payment.id} were spent before its {why}",
                )
            await self.repo.record_refund(tx, payment.id, refunded)

"""Stripe webhooks: verify the signature, store the event (id unique, raw body kept) and its
outbox task before anything else, then run its handler. A handler that fails is retried by the
outbox relay with backoff until it succeeds or its task goes dead (shown to admins). Handlers
are idempotent, so a second delivery, a concurrent one, a retry or an admin's replay changes
nothing that the first one already did."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import stripe

from billing.payments import Payments
from billing.repository import BillingRepository, StoredEvent
from billing.stripe_gateway import StripeNotConfigured
from billing.subscriptions import Subscriptions
from billing.topup import AutoTopup
from core import outbox
from core.audit import AuditLog
from core.db import Database
from core.errors import DomainError, InvalidRequest, NotFound
from core.mail import Mailer
from core.outbox import Relay
from core.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_TOLERANCE_SECS = 300
STRIPE_EVENT_TASK = "billing.stripe_event"


def event_task_key(event_id: str) -> str:
    return f"stripe_event:{event_id}"


class EventHandlerFailed(RuntimeError):
    """The event's handler failed (recorded on the event); raised so the outbox retries it."""


class InvalidSignature(DomainError):
    status_code = 400
    code = "invalid_signature"
    detail = "Missing or invalid Stripe-Signature"


Handler = Callable[[dict], Awaitable[None]]


class StripeEvents:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        mailer: Mailer,
        repo: BillingRepository | None = None,
        relay: Relay | None = None,
    ):
        self.db = db
        self.settings = settings
        self.relay = relay
        self.repo = repo or BillingRepository()
        payments = Payments(db, repo=self.repo)
        subscriptions = Subscriptions(db, settings, repo=self.repo)
        topup = AutoTopup(db, settings, mailer, payments=payments, repo=self.repo)
        self.handlers: dict[str, Handler] = {
            "checkout.session.completed": payments.checkout_paid,
            "checkout.session.async_payment_succeeded": payments.checkout_paid,
            "checkout.session.async_payment_failed": lambda s: payments.checkout_failed(
                s, status="failed", reason="payment failed"
            ),
            "checkout.session.expired": lambda s: payments.checkout_failed(
                s, status="expired", reason="checkout expired"
            ),
            "payment_intent.succeeded": topup.intent_succeeded,
            "payment_intent.payment_failed": topup.intent_failed,
            "invoice.paid": subscriptions.invoice_paid,
            "invoice.payment_failed": subscriptions.invoice_payment_failed,
            "customer.subscription.created": subscriptions.record,
            "customer.subscription.updated": subscriptions.record,
            "customer.subscription.deleted": lambda s: subscriptions.record(s, deleted=True),
            "charge.refunded": payments.refunded,
            "charge.dispute.created": payments.disputed,
            "charge.dispute.closed": payments.dispute_closed,
        }

    def verify(self, payload: bytes, signature: str | None) -> dict:
        """The event, if `Stripe-Signature` proves Stripe sent this body in the last 5 minutes."""
        secret = self.settings.stripe_webhook_secret
        if not secret:
            raise StripeNotConfigured("Stripe webhooks are not configured on this server")
        if not signature:
            raise InvalidSignature()
        try:
            body = payload.decode()
            stripe.WebhookSignature.verify_header(body, signature, secret, SIGNATURE_TOLERANCE_SECS)
            event = json.loads(body)
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            raise InvalidSignature() from None
        except ValueError:
            raise InvalidRequest("The body is not JSON", field="body") from None
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str)
        ):
            raise InvalidRequest("Not a Stripe event", field="body")
        return event

    async def receive(self, payload: bytes, signature: str | None) -> str | None:
        """Verify, then store the event with its outbox task in one transaction; the event id to
        handle now, or None when it was handled before."""
        event = self.verify(payload, signature)
        async with self.db.transaction() as tx:
            first = await self.repo.store_event(
                tx, event_id=event["id"], event_type=event["type"], payload=payload.decode()
            )
            if first:
                # No NOTIFY: the receiver runs it right after answering (`run_now`).
                await outbox.enqueue(
                    tx,
                    STRIPE_EVENT_TASK,
                    {"event_id": event["id"]},
                    key=event_task_key(event["id"]),
                    notify=False,
                )
            elif (await self.repo.event(tx, event["id"])).processed_at is not None:
                return None
        return event["id"]

    async def run_now(self, event_id: str) -> None:
        """Handle a received event through its outbox task, so a failure is retried."""
        if self.relay is not None:
            await self.relay.run_now(event_task_key(event_id))

    def register(self, registry: outbox.OutboxRegistry) -> None:
        registry.register(STRIPE_EVENT_TASK, self._run_task, on_dead=self._gave_up)

    async def _run_task(self, payload: dict) -> None:
        stored = await self.handle(payload["event_id"])
        if stored.processed_at is None:
            raise EventHandlerFailed(stored.last_error or "handler failed")

    async def _gave_up(self, payload: dict, _error: str) -> None:
        async with self.db.connection() as conn:
            await self.repo.mark_event_dead(conn, payload["event_id"])

    async def handle(self, event_id: str) -> StoredEvent:
        """Run the stored event's handler (unknown types are kept and ignored). A failure is
        recorded on the event for admins to see (and the outbox to retry), never raised to Stripe."""
        async with self.db.connection() as conn:
            stored = await self.repo.event(conn, event_id)
        if stored is None or not stored.payload:
            raise NotFound("No such Stripe event, or it has no stored body")
        event = json.loads(stored.payload)
        handler = self.handlers.get(event["type"])
        try:
            if handler is not None:
                await handler(event.get("data", {}).get("object") or {})
        except Exception as exc:
            log.exception("stripe event %s (%s) failed", event_id, stored.event_type)
            async with self.db.connection() as conn:
                await self.repo.mark_event_failed(conn, event_id, f"{type(exc).__name__}: {exc}"[:500])
        else:
            async with self.db.connection() as conn:
                await self.repo.mark_event_handled(conn, event_id)
        async with self.db.connection() as conn:
            return await self.repo.event(conn, event_id)

    async def replay(self, event_id: str, *, admin_id: UUID) -> StoredEvent:
        """Run a stored event again (harmless when it was handled), with an audit row."""
        async with self.db.connection() as conn:
            if await self.repo.event(conn, event_id) is not None:
                await AuditLog().record(
                    conn,
                    admin_id=admin_id,
                    action="stripe_event.replay",
                    target_type="stripe_event",
                    target_id=event_id,
                )
        return await self.handle(event_id)

    async def page(self, *, limit: int, offset: int) -> list[StoredEvent]:
        async with self.db.connection() as conn:
            return await self.repo.events_page(conn, limit=limit, offset=offset)

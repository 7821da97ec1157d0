"""What a signed-in user does with billing: read the catalog, start a Checkout (pack or plan),
open the Customer Portal, read their payments and set auto top-up. Credits never come from
here: only from verified Stripe webhooks (see `stripe_events`)."""

from __future__ import annotations

import uuid

from billing.catalog import Pack, Plan, catalog
from billing.repository import BillingRepository
from billing.schemas import (
    AutoTopupBody,
    AutoTopupSettingsDto,
    BillingStatusDto,
    PackDto,
    PaymentRow,
    PlanDto,
)
from billing.stripe_gateway import PaymentProviderError, StripeGateway, stripe_gateway
from core.db import Database
from core.errors import Conflict, DomainError, InvalidRequest
from core.settings import Settings

PAYMENT_HISTORY_LIMIT = 100


class NoBillingAccount(DomainError):
    status_code = 400
    code = "no_billing_account"
    detail = "No billing account yet: buy credits or subscribe first"


class BillingService:
    def __init__(self, db: Database, settings: Settings, repo: BillingRepository | None = None):
        self.db = db
        self.settings = settings
        self.repo = repo or BillingRepository()

    @staticmethod
    def packs() -> list[PackDto]:
        return [PackDto.model_validate(p, from_attributes=True) for p in catalog().packs]

    @staticmethod
    def plans() -> list[PlanDto]:
        return [
            PlanDto(
                **p.model_dump(exclude={"stripe_price_env", "stripe_overage_price_env"}),
                breakeven_credits=catalog().breakeven_credits(p),
            )
            for p in catalog().plans
        ]

    def status(self) -> BillingStatusDto:
        """What the dashboard needs before offering to take a payment."""
        return BillingStatusDto(payments_enabled=bool(self.settings.stripe_secret_key))

    async def checkout(self, user_id: uuid.UUID, item_id: str) -> str:
        """A Stripe Checkout URL: a pack is a one-off payment that saves the card for auto
        top-up; a plan is a subscription."""
        pack, plan = catalog().pack(item_id), catalog().plan(item_id)
        if pack is None and plan is None:
            raise InvalidRequest(f"Unknown pack or plan: {item_id}", field="pack_id")
        gateway = stripe_gateway(self.settings)
        customer_id = await self._customer_id(gateway, user_id)
        if pack is not None:
            return await self._pack_checkout(gateway, user_id, customer_id, pack)
        return await self._plan_checkout(gateway, user_id, customer_id, plan)

    async def portal(self, user_id: uuid.UUID) -> str:
        gateway = stripe_gateway(self.settings)
        async with self.db.connection() as conn:
            customer = await self.repo.customer(conn, user_id)
        if customer is None or not customer.stripe_customer_id:
            raise NoBillingAccount()
        return await gateway.create_portal_session(
            customer_id=customer.stripe_customer_id,
            return_url=self._dashboard_url(),
            idempotency_key=f"portal:{uuid.uuid4()}",
        )

    async def payment_history(self, user_id: uuid.UUID) -> list[PaymentRow]:
        async with self.db.connection() as conn:
            payments = await self.repo.payments_of(conn, user_id, limit=PAYMENT_HISTORY_LIMIT)
        return [PaymentRow.model_validate(p, from_attributes=True) for p in payments]

    async def auto_topup(self, user_id: uuid.UUID) -> AutoTopupSettingsDto:
        async with self.db.connection() as conn:
            stored = await self.repo.auto_topup(conn, user_id)
        return AutoTopupSettingsDto.model_validate(stored, from_attributes=True)

    async def set_auto_topup(self, user_id: uuid.UUID, body: AutoTopupBody) -> AutoTopupSettingsDto:
        """Store the settings and answer what was stored (a decline may have turned it off since)."""
        if catalog().pack(body.pack_id) is None:
            raise InvalidRequest(f"Unknown pack: {body.pack_id}", field="pack_id")
        async with self.db.connection() as conn:
            await self.repo.set_auto_topup(
                conn, user_id, enabled=body.enabled, threshold=body.threshold_credits, pack_id=body.pack_id
            )
        return await self.auto_topup(user_id)

    # -- helpers ----------------------------------------------------------------------------

    async def _customer_id(self, gateway: StripeGateway, user_id: uuid.UUID) -> str:
        """The user's one Stripe customer, created on first need."""
        async with self.db.connection() as conn:
            customer = await self.repo.customer(conn, user_id)
        if customer.stripe_customer_id:
            return customer.stripe_customer_id
        created = await gateway.create_customer(user_id=str(user_id), email=customer.email)
        async with self.db.connection() as conn:
            return await self.repo.set_stripe_customer(conn, user_id, created)

    async def _pack_checkout(
        self, gateway: StripeGateway, user_id: uuid.UUID, customer_id: str, pack: Pack
    ) -> str:
        async with self.db.connection() as conn:
            payment = await self.repo.insert_payment(
                conn,
                user_id,
                kind="pack",
                pack_id=pack.id,
                credits=pack.credits,
                amount_cents=pack.price_cents,
            )
        metadata = {
            "payment_id": str(payment.id),
            "user_id": str(user_id),
            "kind": "pack",
            "pack_id": pack.id,
        }
        price = (
            {"price": pack.stripe_price_id}
            if pack.stripe_price_id
            else {
                "price_data": {
                    "currency": catalog().currency,
                    "unit_amount": pack.price_cents,
                    "product_data": {"name": pack.name},
                }
            }
        )
        try:
            session_id, url = await gateway.create_checkout_session(
                {
                    "mode": "payment",
                    "customer": customer_id,
                    "client_reference_id": str(user_id),
                    "line_items": [{**price, "quantity": 1}],
                    "metadata": metadata,
                    "payment_intent_data": {"setup_future_usage": "off_session", "metadata": metadata},
                    **self._return_urls(),
                },
                idempotency_key=f"checkout:{payment.id}",
            )
        except PaymentProviderError:
            async with self.db.connection() as conn:
                await self.repo.end_pending_payment(
                    conn, payment.id, status="failed", reason="checkout could not start"
                )
            raise
        async with self.db.connection() as conn:
            await self.repo.attach_checkout_session(conn, payment.id, session_id)
        return url

    async def _plan_checkout(
        self, gateway: StripeGateway, user_id: uuid.UUID, customer_id: str, plan: Plan
    ) -> str:
        async with self.db.connection() as conn:
            current = await self.repo.current_subscription(conn, user_id)
        if current is not None:
            raise Conflict("You already have a plan: change or cancel it from the billing portal")
        price = (
            {"price": plan.stripe_price_id}
            if plan.stripe_price_id
            else {
                "price_data": {
                    "currency": catalog().currency,
                    "unit_amount": plan.monthly_price_cents,
                    "recurring": {"interval": "month"},
                    "product_data": {"name": f"Infrence {plan.name}"},
                }
            }
        )
        line_items = [{**price, "quantity": 1}]
        if plan.stripe_overage_price_id:  # metered price on the overage meter: no quantity
            line_items.append({"price": plan.stripe_overage_price_id})
        metadata = {"user_id": str(user_id), "kind": "plan", "plan_id": plan.id}
        _, url = await gateway.create_checkout_session(
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(user_id),
                "line_items": line_items,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                **self._return_urls(),
            },
            idempotency_key=f"subscribe:{user_id}:{uuid.uuid4()}",
        )
        return url

    def _dashboard_url(self) -> str:
        return f"{self.settings.public_url.rstrip('/')}/billing"

    def _return_urls(self) -> dict[str, str]:
        return {
            "success_url": f"{self._dashboard_url()}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{self._dashboard_url()}?checkout=canceled",
        }

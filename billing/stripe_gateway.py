"""The one place that talks to Stripe: the official client, retries on, an idempotency key on
every create. Callers get ids and URLs back, and domain errors instead of Stripe's."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe

from core.errors import DomainError
from core.settings import Settings

log = logging.getLogger(__name__)


class StripeNotConfigured(DomainError):
    status_code = 503
    code = "stripe_not_configured"
    detail = "Payments are not configured on this server"


class PaymentProviderError(DomainError):
    status_code = 502
    code = "payment_provider_error"
    detail = "The payment provider could not complete the request, try again shortly"


@dataclass(frozen=True)
class OffSessionCharge:
    """The outcome of charging a saved card: a PaymentIntent id, or why the card was refused."""

    payment_intent_id: str | None
    declined: bool
    failure_reason: str | None = None


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str | None):
        base = api_base.rstrip("/") if api_base else None
        addresses = {"api": base, "meter_events": base} if base else None
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses=addresses,
            max_network_retries=2,
            http_client=stripe.HTTPXClient(timeout=30),
        )

    async def create_customer(self, *, user_id: str, email: str) -> str:
        customer = await self._call(
            self.client.v1.customers.create_async(
                params={"email": email, "metadata": {"user_id": user_id}},
                options={"idempotency_key": f"customer:{user_id}"},
            )
        )
        return customer.id

    async def create_checkout_session(self, params: dict, *, idempotency_key: str) -> tuple[str, str]:
        """Returns (session id, hosted page URL)."""
        session = await self._call(
            self.client.v1.checkout.sessions.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            )
        )
        return session.id, session.url

    async def create_portal_session(self, *, customer_id: str, return_url: str, idempotency_key: str) -> str:
        session = await self._call(
            self.client.v1.billing_portal.sessions.create_async(
                params={"customer": customer_id, "return_url": return_url},
                options={"idempotency_key": idempotency_key},
            )
        )
        return session.url

    async def saved_card(self, customer_id: str) -> str | None:
        """A card the customer saved for off-session use (Checkout with `setup_future_usage`)."""
        cards = await self._call(
            self.client.v1.customers.payment_methods.list_async(
                customer_id, params={"type": "card", "limit": 1}
            )
        )
        return cards.data[0].id if cards.data else None

    async def charge_off_session(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_cents: int,
        currency: str,
        description: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> OffSessionCharge:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={
                    "amount": amount_cents,
                    "currency": currency,
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "off_session": True,
                    "confirm": True,
                    "description": description,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            intent_id = getattr(getattr(exc.error, "payment_intent", None), "id", None)
            reason = getattr(exc.error, "decline_code", None) or exc.code or "card_declined"
            return OffSessionCharge(payment_intent_id=intent_id, declined=True, failure_reason=reason)
        except stripe.StripeError as exc:
            raise self._provider_error(exc) from None
        return OffSessionCharge(payment_intent_id=intent.id, declined=False)

    async def report_meter_event(
        self, *, event_name: str, customer_id: str, value: int, identifier: str
    ) -> None:
        """Stripe deduplicates on `identifier`, so re-reporting the same usage is harmless."""
        await self._call(
            self.client.v1.billing.meter_events.create_async(
                params={
                    "event_name": event_name,
                    "identifier": identifier,
                    "payload": {"stripe_customer_id": customer_id, "value": str(value)},
                }
            )
        )

    async def _call(self, request):
        try:
            return await request
        except stripe.StripeError as exc:
            raise self._provider_error(exc) from None

    @staticmethod
    def _provider_error(exc: stripe.StripeError) -> PaymentProviderError:
        # Only the class and Stripe's code: messages may quote request details.
        log.warning(
            "stripe request failed: %s (code=%s, status=%s)", type(exc).__name__, exc.code, exc.http_status
        )
        return PaymentProviderError()


_gateways: dict[tuple[str, str | None], StripeGateway] = {}


def stripe_gateway(settings: Settings) -> StripeGateway:
    """The process's gateway for these settings (one HTTP client per upstream), or 503
    `stripe_not_configured` when there is no secret key."""
    if not settings.stripe_secret_key:
        raise StripeNotConfigured()
    key = (settings.stripe_secret_key, settings.stripe_api_base)
    if key not in _gateways:
        _gateways[key] = StripeGateway(settings.stripe_secret_key, settings.stripe_api_base)
    return _gateways[key]

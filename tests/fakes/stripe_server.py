"""A small fake of Stripe's HTTP API that the real `stripe` client talks to over TCP.

It covers what Infrence uses: customers and their saved cards, Checkout Sessions, Billing
Portal sessions, PaymentIntents (off-session, including declines), Billing Meter events, and
the Idempotency-Key replay rule. Methods named after what happens on Stripe's side (a
customer pays a Checkout page, a card is declined, a refund, a dispute, a renewal) return the
events Stripe would send; `sign` signs a payload with Stripe's real webhook scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

PERIOD_SECS = 30 * 24 * 3600


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header: `t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>`."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


class StripeCardError(Exception):
    def __init__(self, intent: dict, decline_code: str):
        self.intent, self.decline_code = intent, decline_code


class FakeStripe:
    """State of one fake Stripe account; `base_url` is what `STRIPE_API_BASE` points at."""

    def __init__(self, api_key: str = "sk_test_fake", webhook_secret: str = "whsec_test_fake"):
        self.api_key, self.webhook_secret = api_key, webhook_secret
        self.customers: dict[str, dict] = {}
        self.cards: dict[str, list[dict]] = {}  # customer id -> saved payment methods
        self.declining_customers: set[str] = set()
        self.checkout_sessions: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.prices: dict[str, int] = {}  # price id -> unit amount, for prices made in the dashboard
        self.unavailable = False  # every API request answers 503, as during an outage
        self.meter_events: dict[str, dict] = {}  # identifier -> first event with it
        self.meter_event_posts: list[dict] = []  # every POST, duplicates included
        self.requests: list[dict] = []
        self._idempotent: dict[str, tuple[int, dict]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._serve(self, "GET")

            def do_POST(self):
                fake._serve(self, "POST")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def configure(self, settings):
        """`settings` pointed at this fake (secret key, webhook secret, API base)."""
        return settings.model_copy(
            update={
                "stripe_secret_key": self.api_key,
                "stripe_api_base": self.base_url,
                "stripe_webhook_secret": self.webhook_secret,
            }
        )

    async def deliver(
        self,
        http: httpx.AsyncClient,
        event: dict,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        path: str = "/api/billing/stripe-webhook",
    ) -> httpx.Response:
        """POST an event the way Stripe's webhook sender does: raw JSON, signed."""
        payload = json.dumps(event)
        return await http.post(
            path,
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(payload, secret or self.webhook_secret, timestamp),
            },
        )

    # -- what happens on Stripe's side -----------------------------------------------------

    def pay_checkout(self, session_id: str, *, paid: bool = True) -> list[dict]:
        """The customer completes the hosted Checkout page. `paid=False` is a delayed method
        (bank debit): the session completes unpaid and settles later."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            customer = session["customer"]
            self.cards.setdefault(
                customer,
                [{"id": self._id("pm"), "object": "payment_method", "type": "card", "customer": customer}],
            )
            session["status"] = "complete"
            if session["mode"] == "subscription":
                session["payment_status"] = "paid"
                subscription = self._new_subscription(session)
                session["subscription"] = subscription["id"]
                return [
                    self.event("checkout.session.completed", session),
                    self.event("customer.subscription.created", subscription),
                    self._invoice_paid(subscription, "subscription_create"),
                ]
            intent = self._new_intent(
                amount=session["amount_total"],
                customer=customer,
                metadata=session.get("payment_intent_data", {}).get("metadata", {}),
                status="succeeded" if paid else "processing",
            )
            session["payment_intent"] = intent["id"]
            session["payment_status"] = "paid" if paid else "unpaid"
            return [self.event("checkout.session.completed", session)]

    def settle_async_payment(self, session_id: str, *, succeeded: bool) -> dict:
        with self._lock:
            session = self.checkout_sessions[session_id]
            session["payment_status"] = "paid" if succeeded else "unpaid"
            kind = "succeeded" if succeeded else "failed"
            return self.event(f"checkout.session.async_payment_{kind}", session)

    def expire_checkout(self, session_id: str) -> dict:
        with self._lock:
            session = self.checkout_sessions[session_id]
            session["status"] = "expired"
            return self.event("checkout.session.expired", session)

    def decline_cards_of(self, customer_id: str) -> None:
        self.declining_customers.add(customer_id)

    def renew_subscription(self, subscription_id: str, *, amount_paid: int | None = None) -> list[dict]:
        """The next period starts and its invoice is paid (`amount_paid=0`: a 100% coupon)."""
        with self._lock:
            subscription = self._next_period(subscription_id)
            return [
                self.event("customer.subscription.updated", subscription),
                self._invoice_paid(subscription, "subscription_cycle", amount_paid=amount_paid),
            ]

    def fail_renewal(self, subscription_id: str) -> list[dict]:
        """The next period starts but its invoice cannot be charged: dunning begins."""
        with self._lock:
            subscription = self._next_period(subscription_id)
            subscription["status"] = "past_due"
            invoice = self._invoice(subscription, "subscription_cycle", amount_paid=0)
            invoice["status"] = "open"
            return [
                self.event("invoice.payment_failed", invoice),
                self.event("customer.subscription.updated", subscription),
            ]

    def change_plan(self, subscription_id: str, price_id: str, *, proration_cents: int = 0) -> list[dict]:
        """The customer switches plan in the Customer Portal: the item's price changes, the
        metadata Checkout set stays as it was. A positive proration is invoiced at once."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            item = subscription["items"]["data"][0]
            item["price"] = {"id": price_id, "unit_amount": self.prices.get(price_id)}
            events = [self.event("customer.subscription.updated", subscription)]
            if proration_cents > 0:
                invoice = self._invoice(subscription, "subscription_update", amount_paid=proration_cents)
                for line in invoice["lines"]["data"]:
                    line["parent"]["subscription_item_details"]["proration"] = True
                    line["amount"] = proration_cents
                events.append(self.event("invoice.paid", invoice))
            return events

    def cancel_subscription(self, subscription_id: str) -> dict:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = "canceled"
            return self.event("customer.subscription.deleted", subscription)

    def refund(self, payment_intent_id: str, amount_cents: int | None = None) -> dict:
        with self._lock:
            intent = self.payment_intents[payment_intent_id]
            intent["amount_refunded"] = min(
                intent["amount"], intent.get("amount_refunded", 0) + (amount_cents or intent["amount"])
            )
            return self.event("charge.refunded", self._charge(intent))

    def dispute(self, payment_intent_id: str) -> dict:
        with self._lock:
            intent = self.payment_intents[payment_intent_id]
            charge = self._charge(intent)
            return self.event(
                "charge.dispute.created",
                {
                    "id": self._id("dp"),
                    "object": "dispute",
                    "amount": intent["amount"],
                    "charge": charge["id"],
                    "payment_intent": intent["id"],
                    "reason": "fraudulent",
                    "status": "needs_response",
                },
            )

    def lose_dispute(self, payment_intent_id: str) -> dict:
        with self._lock:
            intent = self.payment_intents[payment_intent_id]
            return self.event(
                "charge.dispute.closed",
                {
                    "id": self._id("dp"),
                    "object": "dispute",
                    "amount": intent["amount"],
                    "charge": intent["latest_charge"],
                    "payment_intent": intent["id"],
                    "reason": "fraudulent",
                    "status": "lost",
                },
            )

    def invoice_intent(self, invoice_event: dict) -> str:
        """The PaymentIntent that paid the invoice in an `invoice.paid` event."""
        return invoice_event["data"]["object"]["payments"]["data"][0]["payment"]["payment_intent"]

    def event(self, event_type: str, obj: dict) -> dict:
        return {
            "id": self._id("evt"),
            "object": "event",
            "type": event_type,
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": json.loads(json.dumps(obj))},
        }

    def events_for_intent(self, payment_intent_id: str) -> list[dict]:
        """What Stripe sends after an off-session PaymentIntent settles."""
        intent = self.payment_intents[payment_intent_id]
        kind = "succeeded" if intent["status"] == "succeeded" else "payment_failed"
        return [self.event(f"payment_intent.{kind}", intent)]

    # -- HTTP ------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        params = decode_form(raw if method == "POST" else url.query)
        key = handler.headers.get("Idempotency-Key")
        if self.unavailable:
            status, body = 503, {"error": {"type": "api_error", "message": "Service unavailable"}}
        elif handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            status, body = (
                401,
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}},
            )
        else:
            with self._lock:
                self.requests.append(
                    {"method": method, "path": url.path, "params": params, "idempotency_key": key}
                )
                if method == "POST" and key and key in self._idempotent:
                    status, body = self._idempotent[key]
                else:
                    status, body = self._route(method, url.path, params)
                    if method == "POST" and key:
                        self._idempotent[key] = (status, body)
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Request-Id", self._id("req"))
        handler.end_headers()
        handler.wfile.write(payload)

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/customers":
            customer = {
                "id": self._id("cus"),
                "object": "customer",
                "email": params.get("email"),
                "metadata": params.get("metadata", {}),
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if m := re.fullmatch(r"/v1/customers/([^/]+)/payment_methods", path):
            if m[1] not in self.customers:
                return self._missing("customer", m[1])
            cards = self.cards.get(m[1], [])
            return 200, {
                "object": "list",
                "data": cards[: int(params.get("limit", 10))],
                "has_more": False,
                "url": path,
            }
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_checkout_session(params)
        if method == "POST" and path == "/v1/billing_portal/sessions":
            if params.get("customer") not in self.customers:
                return self._missing("customer", params.get("customer"))
            session = {
                "id": self._id("bps"),
                "object": "billing_portal.session",
                "customer": params["customer"],
                "return_url": params.get("return_url"),
            }
            session["url"] = f"https://billing.stripe.test/p/session/{session['id']}"
            self.portal_sessions[session["id"]] = session
            return 200, session
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_payment_intent(params)
        if method == "POST" and path == "/v1/billing/meter_events":
            event = {
                "object": "billing.meter_event",
                "event_name": params["event_name"],
                "identifier": params.get("identifier") or self._id("mev"),
                "payload": params["payload"],
                "timestamp": int(time.time()),
                "livemode": False,
            }
            self.meter_event_posts.append(event)
            self.meter_events.setdefault(event["identifier"], event)
            return 200, event
        return 404, {
            "error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})"}
        }

    def _create_checkout_session(self, params: dict) -> tuple[int, dict]:
        customer = params.get("customer")
        if customer not in self.customers:
            return self._missing("customer", customer)
        if params.get("mode") not in ("payment", "subscription"):
            return 400, {
                "error": {"type": "invalid_request_error", "param": "mode", "message": "Invalid mode"}
            }
        items = params.get("line_items") or []
        amount = sum(
            int(i.get("price_data", {}).get("unit_amount", 0)) * int(i.get("quantity", 1)) for i in items
        )
        session = {
            "id": self._id("cs_test"),
            "object": "checkout.session",
            "mode": params["mode"],
            "customer": customer,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "line_items": items,
            "amount_total": amount,
            "currency": "usd",
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "subscription": None,
            "payment_intent_data": params.get("payment_intent_data", {}),
            "subscription_data": params.get("subscription_data", {}),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
        }
        session["url"] = f"https://checkout.stripe.test/c/pay/{session['id']}"
        self.checkout_sessions[session["id"]] = session
        public = {
            k: v
            for k, v in session.items()
            if k not in ("line_items", "payment_intent_data", "subscription_data")
        }
        return 200, public

    def _create_payment_intent(self, params: dict) -> tuple[int, dict]:
        customer = params.get("customer")
        if customer not in self.customers:
            return self._missing("customer", customer)
        saved = {c["id"] for c in self.cards.get(customer, [])}
        if params.get("payment_method") not in saved:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "param": "payment_method",
                    "message": "No such PaymentMethod",
                }
            }
        declines = customer in self.declining_customers
        intent = self._new_intent(
            amount=int(params["amount"]),
            customer=customer,
            metadata=params.get("metadata", {}),
            status="requires_payment_method" if declines else "succeeded",
            payment_method=params["payment_method"],
        )
        if declines:
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                    "payment_intent": intent,
                }
            }
        return 200, intent

    # -- object builders -------------------------------------------------------------------

    def _new_intent(
        self, *, amount: int, customer: str, metadata: dict, status: str, payment_method: str | None = None
    ) -> dict:
        intent = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "currency": "usd",
            "customer": customer,
            "metadata": metadata,
            "status": status,
            "payment_method": payment_method,
            "amount_refunded": 0,
            "latest_charge": self._id("ch"),
        }
        if status == "requires_payment_method":
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
            }
        self.payment_intents[intent["id"]] = intent
        return intent

    def _new_subscription(self, session: dict) -> dict:
        now = int(time.time())
        price = session["line_items"][0]
        price_id = price.get("price") or self._id("price")
        inline_amount = price.get("price_data", {}).get("unit_amount")
        unit_amount = int(inline_amount) if inline_amount is not None else self.prices.get(price_id)
        subscription = {
            "id": self._id("sub"),
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "metadata": session["subscription_data"].get("metadata", {}),
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self._id("si"),
                        "price": {"id": price_id, "unit_amount": unit_amount},
                        "current_period_start": now,
                        "current_period_end": now + PERIOD_SECS,
                    }
                ],
            },
        }
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def _next_period(self, subscription_id: str) -> dict:
        subscription = self.subscriptions[subscription_id]
        item = subscription["items"]["data"][0]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] += PERIOD_SECS
        return subscription

    def _invoice_paid(
        self, subscription: dict, billing_reason: str, *, amount_paid: int | None = None
    ) -> dict:
        return self.event(
            "invoice.paid", self._invoice(subscription, billing_reason, amount_paid=amount_paid)
        )

    def _invoice(self, subscription: dict, billing_reason: str, *, amount_paid: int | None) -> dict:
        """An invoice in the shape of API 2025-03-31+: subscription under `parent`, the price
        under `pricing`, the PaymentIntent under `payments`."""
        item = subscription["items"]["data"][0]
        unit_amount = item["price"].get("unit_amount") or 0
        paid = unit_amount if amount_paid is None else amount_paid
        payments = []
        if paid > 0:
            intent = self._new_intent(
                amount=paid, customer=subscription["customer"], metadata={}, status="succeeded"
            )
            payments = [{"payment": {"type": "payment_intent", "payment_intent": intent["id"]}}]
        return {
            "id": self._id("in"),
            "object": "invoice",
            "customer": subscription["customer"],
            "status": "paid",
            "billing_reason": billing_reason,
            "amount_due": paid,
            "amount_paid": paid,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": subscription["metadata"],
                },
            },
            "payments": {"object": "list", "data": payments},
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": self._id("il"),
                        "amount": unit_amount,
                        "pricing": {
                            "type": "price_details",
                            "price_details": {"price": item["price"]["id"]},
                            "unit_amount_decimal": str(unit_amount),
                        },
                        "parent": {
                            "type": "subscription_item_details",
                            "subscription_item_details": {
                                "subscription_item": item["id"],
                                "proration": False,
                            },
                        },
                        "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
                    }
                ],
            },
        }

    def _charge(self, intent: dict) -> dict:
        return {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": intent.get("amount_refunded", 0),
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "refunded": intent.get("amount_refunded") == intent["amount"],
        }

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{int(time.time() * 1000) % 10**8:08d}"

    @staticmethod
    def _missing(kind: str, value: Any) -> tuple[int, dict]:
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{value}'",
            }
        }


@pytest.fixture(name="fake_stripe")
def fake_stripe_fixture():
    server = FakeStripe().start()
    try:
        yield server
    finally:
        server.stop()

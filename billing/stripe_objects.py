"""Reading the Stripe objects inside webhook events: plain JSON, fields that moved between API
versions, ids that may be expanded objects. Nothing here trusts a field to be present."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID


def dig(obj: Any, *path: str | int) -> Any:
    """`obj[a][b]...`, or None as soon as a step is missing."""
    for step in path:
        if isinstance(obj, dict) and isinstance(step, str):
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int) and -len(obj) <= step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def object_id(value: Any) -> str | None:
    """An id field that Stripe may send as the id or as the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def uuid_or_none(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and value > 0 else None


def cents(value: Any) -> int | None:
    """A whole number of cents from an int or a decimal string ("2900", "2900.0")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return int(amount) if amount.is_finite() and amount == amount.to_integral_value() else None


def invoice_subscription(invoice: dict) -> str | None:
    """The subscription an invoice bills (API 2025-03-31+ under `parent`, older at the top)."""
    return object_id(
        dig(invoice, "parent", "subscription_details", "subscription") or invoice.get("subscription")
    )


def invoice_payment_intent(invoice: dict) -> str | None:
    """The PaymentIntent that paid an invoice, so a refund of its charge finds the invoice."""
    return object_id(dig(invoice, "payments", "data", 0, "payment", "payment_intent")) or object_id(
        invoice.get("payment_intent")
    )


def line_price(line: dict) -> tuple[str | None, int | None]:
    """(price id, unit amount in cents) of an invoice line or subscription item, any API version."""
    price = dig(line, "pricing", "price_details", "price") or line.get("price") or line.get("plan")
    unit_amount = cents(dig(line, "pricing", "unit_amount_decimal"))
    if unit_amount is None and isinstance(price, dict):
        unit_amount = cents(price.get("unit_amount"))
        if unit_amount is None:
            unit_amount = cents(price.get("amount"))  # a legacy plan object
    return object_id(price), unit_amount


def is_proration(line: dict) -> bool:
    return bool(line.get("proration") or dig(line, "parent", "subscription_item_details", "proration"))

"""Pydantic models of the billing part of the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class PackDto(BaseModel):
    id: str
    name: str
    credits: int
    price_cents: int
    blurb: str


class PlanDto(BaseModel):
    id: str
    name: str
    monthly_price_cents: int
    included_credits: int
    overage_micros: int
    breakeven_credits: int = Field(
        description="Monthly credit usage above which this plan saves money "
        'over PAYG.\nDrives the dashboard "Save with a plan" hint.'
    )
    blurb: str
    features: list[str]


class CheckoutBody(BaseModel):
    pack_id: str = Field(min_length=1, max_length=100, description="A pack id, or a plan id to subscribe")


class CheckoutResponse(BaseModel):
    url: str


class BillingStatusDto(BaseModel):
    payments_enabled: bool = Field(
        description="False when this server has no Stripe key: checkout and the portal answer 503."
    )


class PaymentRow(BaseModel):
    id: UUID
    created_at: datetime
    completed_at: datetime | None = None
    status: str
    kind: str
    pack_id: str
    pack_credits: int
    pack_amount_cents: int
    refunded_cents: int
    failure_reason: str | None = None
    stripe_invoice_id: str | None = Field(
        default=None, description="For `kind` subscription: the paid invoice"
    )


class AutoTopupBody(BaseModel):
    enabled: bool
    threshold_credits: int = Field(ge=0, le=10_000_000)
    pack_id: str = Field(min_length=1, max_length=100)


class AutoTopupSettingsDto(BaseModel):
    enabled: bool
    threshold_credits: int
    pack_id: str | None = Field(description="None until auto top-up was first set")


class AdminStripeEventRow(BaseModel):
    id: str
    event_type: str
    received_at: datetime
    has_body: bool
    processed_at: datetime | None = None
    attempts: int
    last_error: str | None = None
    status: Literal["received", "handled", "retrying", "dead"] = Field(
        "received",
        description="received | handled | retrying (its handler failed; the outbox retries it) | dead "
        "(retries exhausted: fix the cause and replay)",
    )
    dead_at: datetime | None = None

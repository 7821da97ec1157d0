"""Pydantic models of the credits operations in the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from ledger.buckets import Buckets
from ledger.repository import LedgerEntry

MAX_ADJUST_CREDITS = 10**12  # far above any real correction, far below bigint's limit


def usd_for(credits: int) -> str:
    """1 credit = US$0.01, as an exact decimal string ("12.34"); balances are never negative."""
    whole, cents = divmod(credits, 100)
    return f"{whole}.{cents:02d}"


class BalanceDto(BaseModel):
    credits: int
    usd: str
    plan_credits: int = Field(
        default=0, description="Part of `credits` from the current plan period; expires at its end"
    )
    purchased_credits: int = Field(
        default=0, description="Part of `credits` bought or granted; never expires"
    )
    overage_credits: int = Field(
        default=0, description="Drawn beyond both this period, billed through the plan"
    )
    overage_cap: int = Field(default=0, description="How many credits may be drawn beyond both this period")

    @classmethod
    def of(cls, buckets: Buckets) -> BalanceDto:
        return cls(
            credits=buckets.balance,
            usd=usd_for(buckets.balance),
            plan_credits=buckets.plan_credits,
            purchased_credits=buckets.purchased_credits,
            overage_credits=buckets.overage_credits,
            overage_cap=buckets.overage_cap,
        )


class CreditAdjustBody(BaseModel):
    delta_credits: Annotated[int, Field(strict=True, ge=-MAX_ADJUST_CREDITS, le=MAX_ADJUST_CREDITS)]
    note: Annotated[str, Field(max_length=1000)]
    idempotency_key: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=200,
            description="Optional client-supplied idempotency key (e.g. `crypto.randomUUID()`)\n"
            "to make resubmits safe.",
        ),
    ]


class CreditAdjustResponse(BaseModel):
    balance_after: int


class AdminLedgerRow(BaseModel):
    id: UUID
    created_at: datetime
    kind: str
    delta: int
    plan_delta: int = 0
    overage_delta: int = 0
    balance_after: int
    related_id: str | None = None
    note: str | None = None
    idempotency_key: str | None = None

    @classmethod
    def of(cls, entry: LedgerEntry) -> AdminLedgerRow:
        return cls(
            id=entry.id,
            created_at=entry.created_at,
            kind=entry.kind,
            delta=entry.delta,
            plan_delta=entry.plan_delta,
            overage_delta=entry.overage_delta,
            balance_after=entry.balance_after,
            related_id=entry.related_id,
            note=entry.note,
            idempotency_key=entry.idempotency_key,
        )

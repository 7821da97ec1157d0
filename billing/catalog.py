"""What we sell: credit packs and monthly plans, read from the versioned `catalog.json` beside
this module. Stripe price ids are not in the file: each item names the environment variable
that holds its price id, read at call time, so one catalog serves test and live Stripe."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from functools import cache
from math import floor
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

CATALOG_PATH = Path(__file__).with_name("catalog.json")
MICROS_PER_CENT = 10_000


class Pack(BaseModel):
    id: str
    name: str
    credits: int = Field(gt=0)
    price_cents: int = Field(gt=0)
    blurb: str
    stripe_price_env: str

    @property
    def stripe_price_id(self) -> str | None:
        return os.environ.get(self.stripe_price_env) or None


class Plan(BaseModel):
    id: str
    name: str
    monthly_price_cents: int = Field(gt=0)
    included_credits: int = Field(ge=0)
    overage_micros: int = Field(ge=0, description="Price of one credit beyond the included ones.")
    blurb: str
    features: list[str]
    stripe_price_env: str
    stripe_overage_price_env: str | None = None
    grants_on_free_invoice: bool = Field(
        default=False, description="Grant the included credits on a $0 invoice (trial, 100% coupon)."
    )
    overage_cap_credits: int | None = Field(
        default=None, ge=0, description="Credits a subscriber may draw beyond both buckets per period."
    )

    @property
    def overage_cap(self) -> int:
        """Per period; by default as many as the plan includes."""
        return self.included_credits if self.overage_cap_credits is None else self.overage_cap_credits

    @property
    def stripe_price_id(self) -> str | None:
        return os.environ.get(self.stripe_price_env) or None

    @property
    def stripe_overage_price_id(self) -> str | None:
        return os.environ.get(self.stripe_overage_price_env or "") or None


class Catalog(BaseModel):
    version: int
    currency: str = "usd"
    meter_event_name: str
    packs: list[Pack] = Field(min_length=1)
    plans: list[Plan]

    @model_validator(mode="after")
    def _ids_are_unique_and_plans_can_pay_off(self) -> Catalog:
        ids = [p.id for p in self.packs] + [p.id for p in self.plans]
        if len(ids) != len(set(ids)):
            raise ValueError("pack and plan ids must be unique together (checkout takes either)")
        prices = [p.monthly_price_cents for p in self.plans]
        if len(prices) != len(set(prices)):
            raise ValueError("plan prices must be distinct (an inline price is matched by its amount)")
        for plan in self.plans:
            if plan.overage_micros >= self.base_micros_per_credit:
                raise ValueError(f"plan {plan.id}: overage must cost less than the base pack rate")
        return self

    @property
    def base_micros_per_credit(self) -> Fraction:
        """The pay-as-you-go rate: the price per credit of the smallest pack."""
        base = min(self.packs, key=lambda p: p.credits)
        return Fraction(base.price_cents * MICROS_PER_CENT, base.credits)

    def pack(self, item_id: str) -> Pack | None:
        return next((p for p in self.packs if p.id == item_id), None)

    def plan(self, item_id: str) -> Plan | None:
        return next((p for p in self.plans if p.id == item_id), None)

    def plan_for_price(self, price_id: str | None, unit_amount_cents: int | None = None) -> Plan | None:
        """The plan a Stripe price bills: by its id among the configured price ids, else (for
        a plan without one, whose Checkout sent an inline price) by its monthly amount."""
        if price_id:
            by_id = next((p for p in self.plans if p.stripe_price_id == price_id), None)
            if by_id is not None:
                return by_id
        if unit_amount_cents is None:
            return None
        return next(
            (
                p
                for p in self.plans
                if p.stripe_price_id is None and p.monthly_price_cents == unit_amount_cents
            ),
            None,
        )

    def breakeven_credits(self, plan: Plan) -> int:
        """Monthly usage above which the plan costs less than buying packs at the base rate.

        Below the included credits the plan costs its flat price; above them each credit
        adds `overage_micros`, which is cheaper than the base rate, so the plan always wins
        eventually (the validator guarantees it)."""
        base = self.base_micros_per_credit
        price = plan.monthly_price_cents * MICROS_PER_CENT
        within_included = floor(price / base)
        if within_included < plan.included_credits:
            return within_included
        return floor((price - plan.included_credits * plan.overage_micros) / (base - plan.overage_micros))


@cache
def catalog() -> Catalog:
    return Catalog.model_validate(json.loads(CATALOG_PATH.read_text()))

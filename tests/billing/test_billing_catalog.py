"""The catalog file: its defaults, and what `breakeven_credits` promises the dashboard."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from billing.catalog import CATALOG_PATH, MICROS_PER_CENT, Catalog, Plan, catalog


def monthly_cost_micros(plan: Plan, usage: int) -> int:
    return (
        plan.monthly_price_cents * MICROS_PER_CENT
        + max(0, usage - plan.included_credits) * plan.overage_micros
    )


def pay_as_you_go_micros(usage: int):
    return usage * catalog().base_micros_per_credit


def test_default_packs_are_the_advertised_ones():
    assert [(p.credits, p.price_cents) for p in catalog().packs] == [
        (1000, 1000),
        (5500, 5000),
        (12000, 10000),
    ]
    assert catalog().base_micros_per_credit == 10_000  # 1 credit = US$0.01


@pytest.mark.parametrize("plan", catalog().plans, ids=lambda p: p.id)
def test_a_plan_is_cheaper_than_packs_exactly_above_its_breakeven(plan):
    breakeven = catalog().breakeven_credits(plan)

    assert monthly_cost_micros(plan, breakeven) >= pay_as_you_go_micros(breakeven)
    assert monthly_cost_micros(plan, breakeven + 1) < pay_as_you_go_micros(breakeven + 1)


def test_breakeven_beyond_the_included_credits_counts_the_overage():
    plan = (
        catalog()
        .plans[0]
        .model_copy(update={"monthly_price_cents": 5000, "included_credits": 1000, "overage_micros": 5000})
    )
    breakeven = catalog().breakeven_credits(plan)  # 50 + (u - 1000) * 0.005 < u * 0.01

    assert breakeven == 9000
    assert monthly_cost_micros(plan, breakeven + 1) < pay_as_you_go_micros(breakeven + 1)


def test_the_file_refuses_duplicate_ids_and_overage_dearer_than_packs():
    raw = json.loads(CATALOG_PATH.read_text())
    duplicate = {**raw, "plans": [{**raw["plans"][0], "id": raw["packs"][0]["id"]}]}
    dear = {**raw, "plans": [{**raw["plans"][0], "overage_micros": 10_000}]}

    for bad in (duplicate, dear):
        with pytest.raises(ValidationError):
            Catalog.model_validate(bad)

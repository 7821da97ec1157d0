"""Modes, budgets and the gate's pure decision."""

from __future__ import annotations

import pytest

from graph.budget import BudgetExhausted, Meter, add_spend, next_step, zero_spend
from graph.modes import MODES, InvalidResearchRequest, budgets_for, plan_for, validate_response_schema


def spend(**values):
    return add_spend(zero_spend(), values)


def test_fixed_modes_follow_the_design_table():
    table = {name: (m.price_credits, m.budgets.as_dict()) for name, m in MODES.items() if name != "max"}
    assert table["lite"] == (
        15,
        {
            "max_cost_usd": 0.05,
            "max_wallclock_secs": 60,
            "max_waves": 1,
            "branches": 3,
            "max_searches": 3,
            "max_pages": 6,
            "synthesis_time_reserve_secs": 15,
            "synthesis_cost_reserve_usd": 0.01,
        },
    )
    assert table["standard"][0] == 60 and table["standard"][1]["max_pages"] == 20
    assert table["pro"][0] == 200 and table["pro"][1]["max_waves"] == 4


def test_max_mode_is_sized_from_max_credits():
    plan = plan_for("max", max_credits=1000)
    assert plan.metered and plan.credits_to_reserve == 1000
    assert plan.budgets.max_cost_usd == pytest.approx(4.5)
    assert plan.budgets.synthesis_cost_reserve_usd == pytest.approx(0.30)
    assert plan.credits_for(0.45, "complete") == 100
    assert plan.credits_for(99.0, "complete") == 1000
    small = budgets_for("max", max_credits=20)
    assert small.synthesis_cost_reserve_usd < small.max_cost_usd
    with pytest.raises(InvalidResearchRequest) as missing:
        plan_for("max")
    assert missing.value.field == "max_credits"
    with pytest.raises(InvalidResearchRequest):
        plan_for("max", max_credits=3)


def test_fixed_modes_charge_their_price_unless_canceled():
    plan = plan_for("standard")
    assert plan.credits_for(0.01, "complete") == 60 and plan.credits_for(0.01, "budget") == 60
    assert plan.credits_for(0.0, "canceled") == 0
    assert plan.credits_for(10.0, "canceled") == 60


def test_wallclock_override_lowers_or_doubles_at_most():
    lowered = budgets_for("standard", max_wallclock_secs=30)
    assert lowered.max_wallclock_secs == 30 and lowered.synthesis_time_reserve_secs == 6
    assert budgets_for("standard", max_wallclock_secs=600).max_wallclock_secs == 600
    for bad in (601, 0, 2):
        with pytest.raises(InvalidResearchRequest) as error:
            budgets_for("standard", max_wallclock_secs=bad)
        assert error.value.field == "max_wallclock_secs"


def test_unknown_mode_names_the_field():
    with pytest.raises(InvalidResearchRequest) as error:
        plan_for("turbo")
    assert error.value.field == "mode" and isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"type": "object", "properties": {"a": {"type": "strin"}}}, "invalid JSON Schema"),
        ({"type": "array"}, "root"),
        ([], "JSON object"),
        ({"type": "object", "properties": {"a": {"$ref": "https://evil.example/s.json"}}}, "local"),
    ],
)
def test_bad_response_schemas_are_refused_before_any_spend(schema, message):
    with pytest.raises(InvalidResearchRequest, match=message) as error:
        validate_response_schema(schema)
    assert error.value.field == "response_schema"


def test_good_schema_with_local_refs_passes():
    validate_response_schema(
        {"type": "object", "$defs": {"x": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/x"}}}
    )


GATE = dict(search_cost_micros=8_000, page_cost_micros=2_000)


def test_gate_stops_for_time_with_the_synthesis_reserve_kept():
    budgets = budgets_for("standard")
    decision = next_step(budgets, zero_spend(), 1, elapsed_secs=241, queries_available=4, **GATE)
    assert not decision.continue_research and decision.stop_reason == "deadline"
    assert next_step(budgets, zero_spend(), 1, 239, 4, **GATE).continue_research


def test_gate_stops_for_cost_caps_and_completes_after_the_last_wave():
    budgets = budgets_for("standard")
    assert next_step(budgets, spend(cost_micros=200_000), 1, 0, 4, **GATE).stop_reason == "budget"
    assert next_step(budgets, spend(searches=8), 1, 0, 4, **GATE).stop_reason == "budget"
    assert next_step(budgets, zero_spend(), 2, 0, 4, **GATE).stop_reason == "complete"
    assert next_step(budgets, zero_spend(), 1, 0, 0, **GATE).stop_reason == "complete"


def test_gate_allots_within_every_cap():
    budgets = budgets_for("standard")
    decision = next_step(budgets, spend(cost_micros=150_000, searches=5, pages=17), 1, 0, 10, **GATE)
    assert decision.continue_research
    allowances = decision.allowances
    assert sum(a["searches"] for a in allowances) <= 3
    assert sum(a["pages"] for a in allowances) <= 3
    assert sum(a["cost_micros"] for a in allowances) <= 250_000 - 50_000 - 150_000
    assert all(8_000 + a["pages"] * 2_000 <= a["cost_micros"] for a in allowances)


def test_gate_shrinks_the_wave_to_what_the_cost_left_buys():
    budgets = budgets_for("standard")
    decision = next_step(
        budgets, spend(cost_micros=180_000), 1, 0, 4, search_cost_micros=8_000, page_cost_micros=4_000
    )
    assert decision.continue_research
    assert len(decision.allowances) * 12_000 <= 20_000


def test_a_meter_reserves_worst_cases_and_settles_actuals():
    meter = Meter(cost_limit_micros=100, search_limit=1)
    handle = meter.reserve(60, searches=1)
    assert not meter.fits(50)
    meter.settle(handle, 10, tokens=42)
    assert meter.spend["cost_micros"] == 10 and meter.spend["tokens"] == 42
    with pytest.raises(BudgetExhausted):
        meter.reserve(0, searches=1)
    meter.release(0, searches=1)
    assert meter.fits(90, searches=1)

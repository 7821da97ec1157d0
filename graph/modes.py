"""Research modes: lite / standard / pro / max -> budgets and price in credits
(docs/design.md, "Modes and budgets").

Pure functions the API calls before charging anything: `plan_for` validates the mode, the
credit cap, the wall-clock override and the response schema, and raises `InvalidResearchRequest`
(a ValueError naming the offending field) for the API to map to a 400.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graph.budget import ResearchBudgets
from graph.response_schema import SchemaProblem, check_schema_bounds

CREDIT_USD = 0.01
# Provider spend allowed per credit of price for metered (`max`) runs; the fixed modes sit at
# 0.33-0.45 of their price, so `max` uses the upper end of that range.
MAX_MODE_COST_SHARE = 0.45
MIN_WALLCLOCK_SECS = 5
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 32  # dict/list levels, so ~15 levels of nested objects


class ResearchMode(StrEnum):
    """A research mode; `GET /v1/modes` lists each one's budgets and price."""

    lite = "lite"
    standard = "standard"
    pro = "pro"
    max = "max"


MODE_NAMES = tuple(mode.value for mode in ResearchMode)


class InvalidResearchRequest(ValueError):
    """A research request the API must refuse with 400; `field` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Mode:
    name: str
    price_credits: int | None  # None = metered (max)
    budgets: ResearchBudgets

    @property
    def metered(self) -> bool:
        return self.price_credits is None

    @property
    def price_note(self) -> str:
        """The price in words, for clients that show it (GET /v1/modes)."""
        if not self.metered:
            return f"{self.price_credits} credits per run"
        return (
            f"metered: provider cost / {MAX_MODE_COST_SHARE} in credits of US${CREDIT_USD}, never more "
            f"than max_credits (required, at least {MODES['lite'].price_credits}); its cost cap is "
            f"max_credits x {CREDIT_USD * MAX_MODE_COST_SHARE:g} USD"
        )


# The one price table: the API charges from it, GET /v1/modes publishes it, the dashboard reads that.
MODES: dict[str, Mode] = {
    "lite": Mode("lite", 15, ResearchBudgets(0.05, 60, 1, 3, 3, 6, 15, 0.01, pages_per_branch=2)),
    "standard": Mode("standard", 60, ResearchBudgets(0.25, 300, 2, 4, 8, 20, 60, 0.05, pages_per_branch=3)),
    "pro": Mode("pro", 200, ResearchBudgets(0.90, 900, 4, 6, 24, 60, 120, 0.15, pages_per_branch=3)),
    "max": Mode("max", None, ResearchBudgets(0.0, 1800, 8, 8, 64, 160, 180, 0.30, pages_per_branch=3)),
}


@dataclass(frozen=True)
class ModePlan:
    """What a request buys: its budgets and how many credits to reserve up front."""

    mode: str
    budgets: ResearchBudgets
    credits_to_reserve: int
    metered: bool

    def credits_for(self, cost_usd: float, stop_reason: str | None) -> int:
        """Credits to charge at settlement: the fixed price, or metered use for `max` and
        canceled runs — never more than what was reserved. A run that found nothing relevant
        (`no_evidence`) pays the provider spend alone, at cost, in whole credits: an offline
        run pays nothing, and no abstention ever pays the mode's price."""
        if stop_reason == "no_evidence":
            spent = math.floor(round(cost_usd / CREDIT_USD, 6))
            return min(self.credits_to_reserve, max(spent, 0))
        if self.metered or stop_reason == "canceled":
            return self.metered_credits(cost_usd)
        return self.credits_to_reserve

    def metered_credits(self, cost_usd: float) -> int:
        """Provider spend in credits, never more than what was reserved."""
        used = math.ceil(round(cost_usd / MAX_MODE_COST_SHARE / CREDIT_USD, 6))
        return min(self.credits_to_reserve, max(used, 0))


def mode_named(name: str | None) -> Mode:
    mode = MODES.get(name or "standard")
    if mode is None:
        raise InvalidResearchRequest("mode", f"must be one of {', '.join(MODE_NAMES)}")
    return mode


def budgets_for(
    mode: str | None = "standard", *, max_credits: int | None = None, max_wallclock_secs: int | None = None
) -> ResearchBudgets:
    """The budgets of a mode, with `max` sized from `max_credits` and an optional wall-clock override."""
    return plan_for(mode, max_credits=max_credits, max_wallclock_secs=max_wallclock_secs).budgets


def plan_for(
    mode: str | None = "standard",
    *,
    max_credits: int | None = None,
    max_wallclock_secs: int | None = None,
    response_schema: Any = None,
) -> ModePlan:
    """Validate a request's knobs and return its ModePlan. Raises InvalidResearchRequest."""
    chosen = mode_named(mode)
    budgets = chosen.budgets
    if chosen.price_credits is None:
        budgets, credits = _metered_budgets(budgets, max_credits)
    else:
        if max_credits is not None and max_credits < 0:
            raise InvalidResearchRequest("max_credits", "must not be negative")
        credits = chosen.price_credits
    if max_wallclock_secs is not None:
        budgets = with_wallclock(budgets, max_wallclock_secs, default=chosen.budgets.max_wallclock_secs)
    if response_schema is not None:
        validate_response_schema(response_schema)
    return ModePlan(chosen.name, budgets, credits, metered=chosen.price_credits is None)


def _metered_budgets(base: ResearchBudgets, max_credits: int | None) -> tuple[ResearchBudgets, int]:
    floor = MODES["lite"].price_credits
    if max_credits is None:
        raise InvalidResearchRequest("max_credits", "is required for mode `max`")
    if max_credits < floor:
        raise InvalidResearchRequest("max_credits", f"must be at least {floor} for mode `max`")
    max_cost = round(max_credits * CREDIT_USD * MAX_MODE_COST_SHARE, 6)
    reserve = round(min(base.synthesis_cost_reserve_usd, max_cost / 3), 6)
    return base.with_changes(max_cost_usd=max_cost, synthesis_cost_reserve_usd=reserve), max_credits


def with_wallclock(budgets: ResearchBudgets, secs: int, *, default: int) -> ResearchBudgets:
    """Apply a `max_wallclock_secs` override: lower, or up to twice the mode's default.

    Lowering scales the synthesis time reserve in proportion, so a short run still keeps
    the same share of its time for writing.
    """
    if secs < MIN_WALLCLOCK_SECS:
        raise InvalidResearchRequest("max_wallclock_secs", f"must be at least {MIN_WALLCLOCK_SECS}")
    if secs > 2 * default:
        raise InvalidResearchRequest(
            "max_wallclock_secs", f"must be at most {2 * default} (twice this mode's default)"
        )
    reserve = budgets.synthesis_time_reserve_secs
    if secs < default:
        reserve = max(1, math.ceil(reserve * secs / default))
    return budgets.with_changes(max_wallclock_secs=secs, synthesis_time_reserve_secs=reserve)


def validate_response_schema(schema: Any) -> None:
    """Check a client's JSON Schema before any spend (Draft 2020-12, object root, local refs only).

    Remote `$ref`s are refused so validation never reaches the network; `check_schema_bounds`
    refuses what would make filling or validating it unbounded, or can never be met.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict):
        raise InvalidResearchRequest("response_schema", "must be a JSON object")
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        raise InvalidResearchRequest("response_schema", f"must be at most {MAX_SCHEMA_BYTES} bytes")
    _check_refs_and_depth(schema, 0)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise InvalidResearchRequest(
            "response_schema", f"invalid JSON Schema at {where}: {exc.message}"
        ) from None
    root_type = schema.get("type")
    if root_type != "object" and not (isinstance(root_type, list) and "object" in root_type):
        raise InvalidResearchRequest("response_schema", 'root must have "type": "object"')
    try:
        check_schema_bounds(schema)
    except SchemaProblem as exc:
        raise InvalidResearchRequest("response_schema", str(exc)) from None


def _check_refs_and_depth(node: Any, depth: int) -> None:
    if depth > MAX_SCHEMA_DEPTH:
        raise InvalidResearchRequest("response_schema", f"nests deeper than {MAX_SCHEMA_DEPTH} levels")
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
                raise InvalidResearchRequest(
                    "response_schema", f"only local $ref (#...) allowed, got {value!r}"
                )
            _check_refs_and_depth(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _check_refs_and_depth(item, depth + 1)

"""Budgets, spend and the gate's pure decision: whether another wave fits, and how big it may be.

Every cap is enforced by allotment, not by hope: the gate hands each branch an `Allowance`
(searches, pages, micro-dollars) whose worst case fits what is left after the synthesis
reserve, and every provider call reserves its worst case from that allowance before it runs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, TypedDict

MICROS_PER_USD = 1_000_000


@dataclass(frozen=True)
class ResearchBudgets:
    """The envelope of one research run (the contract's `ResearchBudgets`)."""

    max_cost_usd: float
    max_wallclock_secs: int
    max_waves: int
    branches: int
    max_searches: int
    max_pages: int
    synthesis_time_reserve_secs: int
    synthesis_cost_reserve_usd: float
    pages_per_branch: int = 3

    @property
    def max_cost_micros(self) -> int:
        return round(self.max_cost_usd * MICROS_PER_USD)

    @property
    def synthesis_cost_reserve_micros(self) -> int:
        return round(self.synthesis_cost_reserve_usd * MICROS_PER_USD)

    def as_dict(self) -> dict[str, Any]:
        """The contract's ResearchBudgets object (without internal knobs)."""
        data = asdict(self)
        data.pop("pages_per_branch")
        return data

    def with_changes(self, **changes: Any) -> ResearchBudgets:
        return replace(self, **changes)


class Spend(TypedDict):
    """What a run has consumed so far; summed across nodes and branches by `add_spend`."""

    cost_micros: int
    tokens: int
    searches: int
    pages: int
    llm_calls: int


def zero_spend() -> Spend:
    return Spend(cost_micros=0, tokens=0, searches=0, pages=0, llm_calls=0)


def add_spend(left: Spend | None, right: Spend | None) -> Spend:
    """State reducer: parallel branches each report their own spend; the run's is the sum."""
    total = zero_spend()
    for part in (left, right):
        for key, value in (part or {}).items():
            total[key] = total.get(key, 0) + int(value)
    return total


class Allowance(TypedDict):
    """What one branch may consume at most (carried in its `Send` payload)."""

    searches: int
    pages: int
    cost_micros: int


class BudgetExhausted(Exception):
    """A call's worst case does not fit what is left; the caller degrades or stops."""


@dataclass
class Meter:
    """Counts one node's spend, reserving each call's worst case before it runs.

    A reservation stays charged unless settled with the actual figure, so a call cut off by
    a timeout or a crash is counted at its worst case: spend is never under-reported.
    """

    cost_limit_micros: int | None = None
    search_limit: int | None = None
    page_limit: int | None = None
    spend: Spend = field(default_factory=zero_spend)

    def remaining_micros(self) -> int | None:
        if self.cost_limit_micros is None:
            return None
        return self.cost_limit_micros - self.spend["cost_micros"]

    def fits(self, worst_micros: int, *, searches: int = 0, pages: int = 0) -> bool:
        remaining = self.remaining_micros()
        if remaining is not None and worst_micros > remaining:
            return False
        if self.search_limit is not None and self.spend["searches"] + searches > self.search_limit:
            return False
        return not (self.page_limit is not None and self.spend["pages"] + pages > self.page_limit)

    def reserve(self, worst_micros: int, *, searches: int = 0, pages: int = 0, llm_calls: int = 0) -> int:
        """Charge a worst case now; returns a handle for `settle`. Raises BudgetExhausted."""
        if not self.fits(worst_micros, searches=searches, pages=pages):
            raise BudgetExhausted(f"needs {worst_micros} micro-USD, {searches} searches, {pages} pages")
        self.spend["cost_micros"] += worst_micros
        self.spend["searches"] += searches
        self.spend["pages"] += pages
        self.spend["llm_calls"] += llm_calls
        return worst_micros

    def settle(self, reserved_micros: int, actual_micros: int, *, tokens: int = 0) -> None:
        """Replace a reservation by what the provider actually billed."""
        self.spend["cost_micros"] += actual_micros - reserved_micros
        self.spend["tokens"] += tokens

    def release(self, reserved_micros: int, *, searches: int = 0, pages: int = 0, llm_calls: int = 0) -> None:
        """Undo a reservation for a call the provider refused outright (429/5xx: not billed)."""
        self.spend["cost_micros"] -= reserved_micros
        self.spend["searches"] -= searches
        self.spend["pages"] -= pages
        self.spend["llm_calls"] -= llm_calls


def seconds_left(started_at: float, budgets: ResearchBudgets, *, now: float | None = None) -> float:
    """Seconds until the hard deadline of the whole run."""
    return started_at + budgets.max_wallclock_secs - (time.time() if now is None else now)


def wave_deadline(started_at: float, budgets: ResearchBudgets) -> float:
    """Epoch second by which every branch must have returned, leaving synthesis its reserve."""
    return started_at + budgets.max_wallclock_secs - budgets.synthesis_time_reserve_secs


class StopReason(StrEnum):
    """Why a run stopped researching (a result's `stop_reason`)."""

    complete = "complete"  # nothing left to search, or every wave done
    budget = "budget"  # a cost, search or page cap reached
    deadline = "deadline"  # the wall-clock cap reached
    canceled = "canceled"  # the client canceled
    no_evidence = "no_evidence"  # nothing found to answer from


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict before a wave: go on (with allowances per query) or stop, and why."""

    continue_research: bool
    stop_reason: str | None
    reason: str
    allowances: tuple[Allowance, ...] = ()

    def as_event(self) -> dict[str, Any]:
        return {
            "continue": self.continue_research,
            "stop_reason": self.stop_reason,
            "reason": self.reason,
            "branches": len(self.allowances),
        }


def next_step(
    budgets: ResearchBudgets,
    spend: Spend,
    waves_done: int,
    elapsed_secs: float,
    queries_available: int,
    *,
    search_cost_micros: int,
    page_cost_micros: int,
) -> GateDecision:
    """The gate rule of docs/design.md ("Modes and budgets"), plus the allotment that keeps the
    next wave inside every cap.

    `page_cost_micros` is the worst case of reading *and* extracting one page; the allotment
    gives each branch one search and as many pages as fit, shrinking pages first, then branches.
    """
    if elapsed_secs + budgets.synthesis_time_reserve_secs >= budgets.max_wallclock_secs:
        return GateDecision(False, "deadline", "no time left beyond the synthesis reserve")
    cost_left = budgets.max_cost_micros - budgets.synthesis_cost_reserve_micros - spend["cost_micros"]
    if cost_left <= 0:
        return GateDecision(False, "budget", "cost reached the cap less the synthesis reserve")
    if waves_done >= budgets.max_waves:
        return GateDecision(False, "complete", f"all {budgets.max_waves} waves done")
    searches_left = budgets.max_searches - spend["searches"]
    pages_left = budgets.max_pages - spend["pages"]
    if searches_left <= 0 or pages_left <= 0:
        return GateDecision(False, "budget", "search or page cap reached")
    if queries_available <= 0:
        return GateDecision(False, "complete", "no open questions left to search")

    branches = min(budgets.branches, searches_left, queries_available, pages_left)
    while branches > 0:
        per_branch_pages = min(budgets.pages_per_branch, pages_left // branches)
        while per_branch_pages >= 1:
            branch_cost = search_cost_micros + per_branch_pages * page_cost_micros
            if branch_cost * branches <= cost_left:
                allowance = Allowance(searches=1, pages=per_branch_pages, cost_micros=cost_left // branches)
                return GateDecision(
                    True,
                    None,
                    f"wave {waves_done + 1}: {branches} branches",
                    tuple(dict(allowance) for _ in range(branches)),
                )
            per_branch_pages -= 1
        branches -= 1
    return GateDecision(False, "budget", "not even one more branch fits the cost left")


def usd(micros: int) -> float:
    """Micro-dollars (how spend is counted) to dollars (how the contract shows it)."""
    return micros / MICROS_PER_USD

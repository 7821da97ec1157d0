"""CI regression gates over a run's per-mode summaries (issue 10).

Quote-in-source precision, schema validity and budget adherence must be perfect; a run must abstain
on at least 90 % of the questions its corpus cannot answer; fact recall may not fall below the
committed baseline by more than a small tolerance. Pure, so CI and tests call it directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from evals.metrics import Summary

PERFECT_METRICS = ("citation_precision", "schema_validity", "budget_adherence")
FACT_RECALL_TOLERANCE = 0.02
ABSTENTION_FLOOR = 0.9


def gate_failures(
    by_mode: Mapping[str, Summary],
    committed_fact_recall: Mapping[str, float],
    *,
    tolerance: float = FACT_RECALL_TOLERANCE,
    abstention_floor: float | None = ABSTENTION_FLOOR,
) -> list[str]:
    """Human-readable reasons the run fails its gates; empty when it passes. The one-shot baseline
    is reported but not gated."""
    failures = []
    for mode, summary in by_mode.items():
        if mode == "baseline":
            continue
        for metric in PERFECT_METRICS:
            value = summary.metrics.get(metric)
            if value is not None and value < 1.0:
                failures.append(f"{mode}: {metric} {value:.3f} < 1.0")
        abstention = summary.metrics.get("abstention")
        if abstention_floor is not None and abstention is not None and abstention < abstention_floor:
            failures.append(f"{mode}: abstention {abstention:.3f} < {abstention_floor}")
        floor = committed_fact_recall.get(mode)
        recall = summary.metrics.get("fact_recall")
        if floor is not None and (recall is None or recall < floor - tolerance):
            failures.append(
                f"{mode}: fact_recall {recall if recall is None else f'{recall:.3f}'} "
                f"< committed {floor:.3f} - {tolerance}"
            )
    return failures


def load_committed_fact_recall(path: str | Path) -> dict[str, float]:
    """The committed baseline file: {"fact_recall": {"lite": 0.8, ...}}."""
    return {
        mode: float(v)
        for mode, v in json.loads(Path(path).read_text(encoding="utf-8"))["fact_recall"].items()
    }


def load_abstention_floor(path: str | Path) -> float | None:
    """The committed abstention floor, when the baseline sets one (`"abstention_floor": 0.9`): a
    dataset whose unanswerable questions the corpus truly cannot answer gates on abstaining."""
    value = json.loads(Path(path).read_text(encoding="utf-8")).get("abstention_floor")
    return None if value is None else float(value)

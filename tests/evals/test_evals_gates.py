"""The CI gates: perfect citations, schemas and budgets; fact recall no worse than committed."""

from __future__ import annotations

import json

from evals.gates import gate_failures, load_abstention_floor, load_committed_fact_recall
from evals.metrics import Summary


def summary(mode: str, **metrics: float | None) -> Summary:
    values = {
        "fact_recall": 0.9,
        "citation_precision": 1.0,
        "schema_validity": 1.0,
        "budget_adherence": 1.0,
        **metrics,
    }
    return Summary(
        group=mode,
        questions=40,
        metrics=values,
        cost_usd_total=1.0,
        cost_usd_mean=0.025,
        latency_ms_mean=1000,
        latency_ms_p95=2000,
        credits_total=600,
    )


def test_a_run_at_its_committed_level_passes(tmp_path):
    committed = tmp_path / "baseline.json"
    committed.write_text(json.dumps({"fact_recall": {"lite": 0.91, "standard": 0.95}}))
    by_mode = {
        "baseline": summary("baseline", citation_precision=0.5, fact_recall=0.1),
        "lite": summary("lite"),
        "standard": summary("standard", fact_recall=0.93),
    }
    assert gate_failures(by_mode, load_committed_fact_recall(committed)) == []


def test_a_fabricated_quote_or_a_recall_drop_fails_the_gate():
    by_mode = {"lite": summary("lite", citation_precision=0.975), "pro": summary("pro", fact_recall=0.8)}
    assert gate_failures(by_mode, {"pro": 0.9}) == [
        "lite: citation_precision 0.975 < 1.0",
        "pro: fact_recall 0.800 < committed 0.900 - 0.02",
    ]


def test_answering_what_the_corpus_cannot_answer_fails_the_gate_when_the_baseline_sets_a_floor(tmp_path):
    committed = tmp_path / "baseline.json"
    committed.write_text(json.dumps({"abstention_floor": 0.9, "fact_recall": {"lite": 0.5}}))
    by_mode = {"lite": summary("lite", abstention=0.8)}
    floor = load_abstention_floor(committed)
    assert gate_failures(by_mode, load_committed_fact_recall(committed), abstention_floor=floor) == [
        "lite: abstention 0.800 < 0.9"
    ]
    assert gate_failures(by_mode, {}, abstention_floor=load_abstention_floor_of_none(tmp_path)) == []


def load_abstention_floor_of_none(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"fact_recall": {}}))
    return load_abstention_floor(plain)

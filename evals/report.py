"""The eval report: `report.md`, `results.json` and PNG charts, comparing each mode with the baseline.

Charts are drawn on matplotlib `Figure` objects with the Agg canvas directly (no pyplot), so a report
can be written from any thread or event loop without touching global plotting state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evals.metrics import QUALITY_METRICS, QuestionScore, Summary, aggregate

METRIC_LABELS = {
    "fact_recall": "Fact recall",
    "citation_precision": "Quote-in-source precision",
    "abstention": "Abstention on unanswerable",
    "wrong_abstention": "Wrong abstention on answerable (lower is better)",
    "sentence_support": "Sentence support",
    "citation_coverage": "Citation coverage",
    "unsupported_claim_rate": "Unsupported claims (lower is better)",
    "schema_validity": "Schema validity",
    "typed_field_accuracy": "Typed field accuracy",
    "budget_adherence": "Budget adherence",
    "success": "Succeeded",
    "judge_score": "LLM judge",
}
# Latency varies between a recording and its replay; everything else must be identical.
_NON_DETERMINISTIC_FIELDS = ("latency_ms",)


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    results: Path
    quality_vs_cost_chart: Path
    metrics_chart: Path


def write_report(
    scores: Iterable[QuestionScore],
    out_dir: str | Path,
    *,
    title: str = "Infrence eval report",
    run_info: Mapping[str, Any] | None = None,
) -> ReportFiles:
    scores = list(scores)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_mode = aggregate(scores)
    by_kind = aggregate(scores, key=lambda s: s.kind)
    files = ReportFiles(
        markdown=out / "report.md",
        results=out / "results.json",
        quality_vs_cost_chart=out / "quality_vs_cost.png",
        metrics_chart=out / "metrics_by_mode.png",
    )
    results = {
        "run": dict(run_info or {}),
        "fingerprint": results_fingerprint(scores),
        "summary_by_mode": {mode: s.as_dict() for mode, s in by_mode.items()},
        "summary_by_kind": {kind: s.as_dict() for kind, s in by_kind.items()},
        "questions": [s.as_dict() for s in scores],
    }
    files.results.write_text(
        json.dumps(results, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    draw_quality_vs_cost(by_mode, files.quality_vs_cost_chart)
    draw_metrics_by_mode(by_mode, files.metrics_chart)
    files.markdown.write_text(
        render_markdown(title, scores, by_mode, by_kind, run_info or {}, files), encoding="utf-8"
    )
    return files


def results_fingerprint(scores: Iterable[QuestionScore]) -> str:
    """A hash of every score except timings: a replay of a recording must reproduce it exactly."""
    rows = []
    for score in sorted(scores, key=lambda s: (s.mode, s.item_id)):
        row = score.as_dict()
        for name in _NON_DETERMINISTIC_FIELDS:
            row.pop(name, None)
        rows.append(row)
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


# --- markdown ---------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_rows(summaries: Mapping[str, Summary]) -> list[list[str]]:
    return [
        [
            group,
            str(s.questions),
            *(_fmt(s.metrics[m]) for m in QUALITY_METRICS),
            _usd(s.cost_usd_mean),
            _usd(s.cost_usd_total),
            _fmt(s.latency_ms_mean and s.latency_ms_mean / 1000, 1),
            _fmt(s.latency_ms_p95 and s.latency_ms_p95 / 1000, 1),
            str(s.credits_total),
        ]
        for group, s in summaries.items()
    ]


def render_markdown(
    title: str,
    scores: list[QuestionScore],
    by_mode: Mapping[str, Summary],
    by_kind: Mapping[str, Summary],
    run_info: Mapping[str, Any],
    files: ReportFiles,
) -> str:
    header = [
        "",
        "n",
        *(METRIC_LABELS[m].split(" (")[0] for m in QUALITY_METRICS),
        "mean $",
        "total $",
        "mean s",
        "p95 s",
        "credits",
    ]
    parts = [f"# {title}", ""]
    if run_info:
        parts += [f"- **{key}**: {value}" for key, value in run_info.items()] + [""]
    parts += [
        (
            f"{len(scores)} results over {len({s.item_id for s in scores})} questions. "
            "Metrics are means over the questions where they apply (— where none do); "
            "unsupported claims: lower is better."
        ),
        "",
        "## By mode",
        "",
        _table(["mode", *header[1:]], _summary_rows(by_mode)),
        "",
    ]
    baseline = by_mode.get("baseline")
    if baseline is not None and len(by_mode) > 1:
        parts += [
            "## Compared with the one-shot baseline",
            "",
            _table(
                [
                    "mode",
                    "Δ fact recall",
                    "Δ citation coverage",
                    "Δ unsupported claims",
                    "Δ LLM judge",
                    "cost × baseline",
                ],
                [
                    [
                        mode,
                        _delta(s, baseline, "fact_recall"),
                        _delta(s, baseline, "citation_coverage"),
                        _delta(s, baseline, "unsupported_claim_rate"),
                        _delta(s, baseline, "judge_score"),
                        _ratio(s.cost_usd_mean, baseline.cost_usd_mean),
                    ]
                    for mode, s in by_mode.items()
                    if mode != "baseline"
                ],
            ),
            "",
        ]
    parts += [
        "## By question kind",
        "",
        _table(["kind", *header[1:]], _summary_rows(by_kind)),
        "",
        "## Charts",
        "",
        f"![Quality vs cost]({files.quality_vs_cost_chart.name})",
        "",
        f"![Metrics by mode]({files.metrics_chart.name})",
        "",
    ]
    problems = [s for s in scores if _problems(s)]
    parts += ["## Questions needing attention", ""]
    if not problems:
        parts += ["None: every fact found, every quote verified, every schema valid, every budget kept.", ""]
    for score in problems:
        parts.append(f"- **{score.item_id}** ({score.mode}, {score.kind}): " + "; ".join(_problems(score)))
    parts.append("")
    return "\n".join(parts)


def _delta(summary: Summary, baseline: Summary, metric: str) -> str:
    ours, theirs = summary.metrics[metric], baseline.metrics[metric]
    return "—" if ours is None or theirs is None else f"{ours - theirs:+.2f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return "—" if not ours or not theirs else f"{ours / theirs:.1f}×"


def _problems(score: QuestionScore) -> list[str]:
    details = score.details
    found = []
    if score.success == 0.0:
        found.append(f"status {score.status}" + (f" ({details['error']})" if details.get("error") else ""))
    if details.get("missing_facts"):
        found.append("missing " + ", ".join(repr(f[0]) for f in details["missing_facts"]))
    if score.fact_recall == 0.0 and not score.answerable:
        found.append("answered a question the corpus cannot answer")
    if details.get("failed_citations"):
        found.append(f"{len(details['failed_citations'])} quote(s) not in their source")
    if details.get("schema_errors"):
        found.append("schema: " + "; ".join(details["schema_errors"][:3]))
    if details.get("wrong_fields"):
        found.append("wrong fields: " + ", ".join(sorted(details["wrong_fields"])))
    if details.get("budget_violations"):
        found.append("over budget: " + ", ".join(details["budget_violations"]))
    judged = details.get("judge") or {}
    if judged.get("error"):
        found.append(f"judge failed: {judged['error']}")
    elif judged and score.success and not judged.get("correct"):
        found.append(f"judge: incorrect ({judged['score']:.2f}): {judged['reason']}")
    return found


# --- charts -----------------------------------------------------------------------------------

_MODE_COLOURS = {
    "baseline": "#7f7f7f",
    "lite": "#2ca02c",
    "standard": "#1f77b4",
    "pro": "#9467bd",
    "max": "#d62728",
}


def _colour(mode: str, index: int) -> str:
    return _MODE_COLOURS.get(mode, f"C{index % 10}")


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=110, metadata={"Software": None})


def draw_quality_vs_cost(by_mode: Mapping[str, Summary], path: Path) -> None:
    figure = Figure(figsize=(6.4, 4.4))
    axes = figure.add_subplot()
    for index, (mode, summary) in enumerate(by_mode.items()):
        cost, quality = summary.cost_usd_mean or 0.0, summary.metrics["fact_recall"] or 0.0
        axes.scatter([cost], [quality], s=90, color=_colour(mode, index), label=mode, zorder=3)
        axes.annotate(mode, (cost, quality), textcoords="offset points", xytext=(7, 5 - 11 * (index % 3)))
    axes.set_xlabel("mean cost per question (USD)")
    axes.set_ylabel("mean fact recall")
    axes.set_ylim(0, 1.05)
    axes.set_xlim(left=0)
    axes.grid(True, alpha=0.3)
    axes.set_title("Quality vs cost per mode")
    figure.tight_layout()
    _save(figure, path)


def draw_metrics_by_mode(by_mode: Mapping[str, Summary], path: Path) -> None:
    metrics = list(QUALITY_METRICS)
    modes = list(by_mode)
    figure = Figure(figsize=(10, 4.8))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(modes))
    for index, mode in enumerate(modes):
        # A metric that applied to no question gets no bar rather than a misleading zero.
        measured = [
            (i, by_mode[mode].metrics[m])
            for i, m in enumerate(metrics)
            if by_mode[mode].metrics[m] is not None
        ]
        positions = [i + (index - (len(modes) - 1) / 2) * width for i, _ in measured]
        axes.bar(
            positions, [value for _, value in measured], width=width, color=_colour(mode, index), label=mode
        )
    axes.set_xticks(range(len(metrics)))
    axes.set_xticklabels(
        [METRIC_LABELS[m].replace(" (lower is better)", "\n(lower is better)") for m in metrics],
        rotation=25,
        ha="right",
        fontsize=8,
    )
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("mean over questions")
    axes.set_title("Metrics by mode")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    _save(figure, path)

"""The report: markdown, results.json and two valid PNG charts, with the baseline compared."""

from __future__ import annotations

import json
import struct

from evals.metrics import score_result
from evals.report import results_fingerprint, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def scores_for_three_modes(dataset, research_result, source_texts):
    grounded = research_result(
        [
            (
                "The MV Tern was built at the Kessingford shipyard",
                "companies/mv_tern_launch.html",
                "Built at the Kessingford shipyard",
            ),
            (
                "Kessingford had 298,750 inhabitants",
                "civic/vellmark_census_2020.txt",
                "Kessingford       298,750",
            ),
        ]
    )
    half = {
        **grounded,
        "typed": {},
        "brief": "It was built in Kessingford [1].",
        "cost_usd": 0.004,
        "claims": [{"url": grounded["sources"][0]["url"], "quote": "invented words"}],
    }
    item = dataset["mh-03"]
    return [
        score_result(item, half, source_texts, mode="baseline"),
        score_result(item, grounded, source_texts, mode="lite"),
        score_result(
            item, {**grounded, "cost_usd": 0.12, "latency_ms": 90_000}, source_texts, mode="standard"
        ),
    ]


def test_the_report_writes_markdown_json_and_charts(tmp_path, dataset, research_result, source_texts):
    scores = scores_for_three_modes(dataset, research_result, source_texts)
    files = write_report(
        scores, tmp_path / "out", run_info={"dataset": "default.jsonl", "reasoner": "offline"}
    )

    results = json.loads(files.results.read_text())
    assert list(results["summary_by_mode"]) == ["baseline", "lite", "standard"]
    assert results["summary_by_mode"]["lite"]["metrics"]["fact_recall"] == 1.0
    assert len(results["questions"]) == 3 and results["run"]["reasoner"] == "offline"

    markdown = files.markdown.read_text()
    assert "## By mode" in markdown and "## Compared with the one-shot baseline" in markdown
    assert "![Quality vs cost](quality_vs_cost.png)" in markdown
    assert "**mh-03** (baseline, multi_hop)" in markdown and "quote(s) not in their source" in markdown

    for chart in (files.quality_vs_cost_chart, files.metrics_chart):
        width, height = png_size(chart)
        assert width > 300 and height > 200


def test_the_fingerprint_ignores_timings_only(dataset, research_result, source_texts):
    scores = scores_for_three_modes(dataset, research_result, source_texts)
    fingerprint = results_fingerprint(scores)
    scores[0].latency_ms = 123
    assert results_fingerprint(reversed(scores)) == fingerprint
    scores[0].cost_usd = 1.0
    assert results_fingerprint(scores) != fingerprint

"""`infrence eval` through the real command line: bad arguments get one clear line and exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app


@pytest.fixture
def infrence(tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "TAVILY_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INFRENCE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["eval", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--modes", "lite,turbo"],
            "infrence: --modes: unknown mode 'turbo'; use lite, standard, pro, max (comma-separated)",
        ),
        (["--modes", ","], "infrence: --modes: name at least one of lite, standard, pro, max"),
        (
            ["--record", "a.jsonl", "--replay", "b.jsonl"],
            "infrence: use either --record or --replay, not both",
        ),
        (["--limit", "0"], "infrence: --limit: must be at least 1"),
        (
            ["--dataset", "missing.jsonl"],
            "infrence: missing.jsonl: cannot read dataset: No such file or directory",
        ),
        (["--corpus", "no-such-folder"], "infrence: no-such-folder: corpus directory does not exist"),
        (
            ["--replay", "missing.cassette.jsonl"],
            "infrence: missing.cassette.jsonl: cannot read cassette: No such file or directory",
        ),
        (["--search", "bing"], "infrence: --search: must be one of corpus, tavily; got 'bing'"),
        (["--search", "tavily"], "infrence: --search tavily needs TAVILY_API_KEY"),
        (
            ["--gate", "--baseline", "missing.json"],
            "infrence: --baseline: cannot read committed figures from missing.json: No such file or directory",
        ),
    ],
)
def test_bad_arguments_get_one_clear_line(infrence, args, message):
    outcome = infrence(*args)
    assert outcome.exit_code == 2
    assert outcome.stderr.splitlines() == [message]


def test_a_malformed_dataset_line_is_named_by_file_and_line(infrence, tmp_path):
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text('{"id": "a", "question": "q?", "mode": "lite", "facts": [["x"]]}\n{"id": "b"}\n')
    outcome = infrence("--dataset", str(dataset))
    assert outcome.exit_code == 2
    assert outcome.stderr.splitlines() == [
        f"infrence: {dataset}:2: missing required field(s): question, mode"
    ]


def test_a_small_run_prints_the_figures_and_writes_the_report(infrence, tmp_path):
    outcome = infrence("--modes", "lite", "--limit", "2", "--out", str(tmp_path / "out"))
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0].startswith("2 questions, offline reasoner, corpus search")
    assert [line.split()[0] for line in lines[2:4]] == ["baseline", "lite"]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["summary_by_mode"]) == {"baseline", "lite"}


def test_the_gate_fails_a_run_below_its_committed_fact_recall(infrence, tmp_path):
    dataset = tmp_path / "wrong-gold.jsonl"  # a gold fact the corpus contradicts: recall 0
    dataset.write_text(
        '{"id": "x", "question": "In what year was Brightwater Tidal Energy founded?", '
        '"mode": "lite", "facts": [["1066"]]}\n'
    )
    committed = tmp_path / "baseline.json"
    committed.write_text(json.dumps({"fact_recall": {"lite": 0.5}}))
    outcome = infrence(
        "--dataset",
        str(dataset),
        "--modes",
        "lite",
        "--out",
        str(tmp_path / "out"),
        "--gate",
        "--baseline",
        str(committed),
    )
    assert outcome.exit_code == 1
    assert [line for line in outcome.stderr.splitlines() if line.startswith("gate failed")] == [
        "gate failed: lite: fact_recall 0.000 < committed 0.500 - 0.02"
    ]

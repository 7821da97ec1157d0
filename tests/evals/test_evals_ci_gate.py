"""CI's regression gates, on both shipped corpora, offline reasoner, lite and standard mode: every
quote in its cited source's original text, every schema valid, every budget kept, fact recall no
lower than the committed baseline (minus the tolerance); on the PostgreSQL manual, abstention on at
least 90 % of the questions it cannot answer. About 30 s on two cores."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.cli import app

CORPORA = {
    "fictional": [],
    "postgres": [
        "--dataset",
        "evals/datasets/postgres.jsonl",
        "--corpus",
        "evals/corpus_pg",
        "--baseline",
        "evals/baseline_postgres.json",
    ],
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_the_shipped_datasets_pass_the_regression_gates(corpus, tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "TAVILY_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INFRENCE_DATA_DIR", str(tmp_path / "data"))

    outcome = CliRunner().invoke(
        app,
        [
            "eval",
            "--modes",
            "lite,standard",
            "--gate",
            "--no-judge",
            "--out",
            str(tmp_path / "out"),
            *CORPORA[corpus],
        ],
    )

    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.splitlines()[-1] == "gates passed"
    assert (tmp_path / "out" / "report.md").is_file()

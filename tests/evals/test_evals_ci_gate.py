"""CI's regression gate: the offline reasoner over the whole shipped dataset in lite and standard mode
must keep every citation verified, every schema valid, every budget kept, and fact recall no lower
than `evals/baseline.json` (minus the tolerance). About 10 s on two cores: the pytest route, not a CI step."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app


def test_the_shipped_dataset_passes_the_regression_gates(tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "TAVILY_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INFRENCE_DATA_DIR", str(tmp_path / "data"))

    outcome = CliRunner().invoke(
        app, ["eval", "--modes", "lite,standard", "--gate", "--out", str(tmp_path / "out")]
    )

    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.splitlines()[-1] == "gates passed"
    assert (tmp_path / "out" / "report.md").is_file()

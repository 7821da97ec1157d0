"""`infrence research`: a local run from the command line, offline on a corpus."""

from __future__ import annotations

import json

import jsonschema
import pytest
import typer
from typer.testing import CliRunner

from graph.cli import research
from tests.graph.conftest import CORPUS

app = typer.Typer()
app.command()(research)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for key in ("OPENAI_API_KEY", "TAVILY_API_KEY", "INFRENCE_CORPUS_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INFRENCE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_json_output_is_a_research_result(cli):
    outcome = cli(
        "What is the efficiency of heat pumps?", "--mode", "lite", "--corpus", str(CORPUS), "--json"
    )
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.stdout)
    assert result["status"] == "succeeded" and result["mode"] == "lite"
    assert result["brief"] and "[1]" in result["brief"]
    assert result["sources"][0]["url"].endswith("heat-pumps.md")
    assert set(result["usage"]) >= {"searches", "pages", "tokens"} and result["wave_count"] == 1


def test_markdown_output_lists_numbered_sources(cli):
    outcome = cli("How do grid batteries help solar power?", "--mode", "lite", "--corpus", str(CORPUS))
    assert outcome.exit_code == 0, outcome.output
    assert "[1] Grid batteries and energy storage" in outcome.stdout
    assert "complete · 1 waves" in outcome.stdout


def test_a_schema_file_shapes_the_typed_output(cli, tmp_path):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "sources": {"type": "integer"}},
        "required": ["answer", "sources"],
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    outcome = cli(
        "wind turbines offshore", "--mode", "lite", "--corpus", str(CORPUS), "--schema", str(path), "--json"
    )
    assert outcome.exit_code == 0, outcome.output
    jsonschema.validate(json.loads(outcome.stdout)["typed"], schema)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mode", "turbo"], "mode"),
        (["--mode", "max"], "max_credits"),
        (["--corpus", "/no/such/folder"], "not a folder"),
    ],
)
def test_bad_options_exit_with_a_clear_message(cli, args, message):
    outcome = cli("question", *args)
    assert outcome.exit_code == 2
    assert message in outcome.output

"""The LLM judge: verdicts from a fake OpenAI server over real HTTP flow into each question's
`judge_score` and the per-mode means, go through the cassette like every LLM call, and without an
LLM configured there is no judge, no score and no request."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from evals.dataset import load_dataset
from evals.runner import EvalConfig, EvalSetupError, run_eval
from graph.settings import GraphSettings
from tests.fakes.openai_server import FakeOpenAI

IDS = ("sh-01", "mh-03", "na-01")
JUDGE_MODEL = "judge-model-x"


@pytest.fixture
def three_questions(tmp_path):
    """A single-hop, a multi-hop and an unanswerable question of the shipped dataset."""
    from evals.dataset import DEFAULT_DATASET

    path = tmp_path / "three.jsonl"
    path.write_text(
        "\n".join(
            line
            for line in DEFAULT_DATASET.read_text().splitlines()
            if line.strip() and json.loads(line)["id"] in IDS
        )
        + "\n"
    )
    return path


@pytest.fixture(scope="module")
def questions() -> dict[str, str]:
    """question text -> item id, to answer the judge by content."""
    return {item.question: item.id for item in load_dataset() if item.id in IDS}


VERDICTS = {
    "sh-01": {"correct": True, "score": 1.0, "reason": "States the gold fact."},
    "mh-03": {"correct": False, "score": 0.25, "reason": "Gives the city but not its population."},
}


async def test_verdicts_flow_into_scores_report_and_cassette(three_questions, questions, tmp_path):
    cassette = tmp_path / "judged.cassette.jsonl"
    with FakeOpenAI() as llm:
        judged = []

        def verdict(payload, request):
            judged.append((questions[payload["question"]], request["model"], payload))
            return VERDICTS[questions[payload["question"]]]

        llm.handlers["Verdict"] = verdict
        # The judge of na-01 fails for good (a 400 is not retried): its score is unknown, not made up.
        llm.fail_when(
            lambda name, payload: name == "Verdict" and questions[payload["question"]] == "na-01",
            status=400,
            times=2,
        )
        settings = GraphSettings(
            openai_api_key=llm.api_key, openai_base_url=llm.base_url, data_dir=tmp_path / "data"
        )
        recorded = await run_eval(
            EvalConfig(
                dataset=three_questions,
                modes=("lite",),
                record=cassette,
                judge_model=JUDGE_MODEL,
                out=tmp_path / "recorded",
                show_progress=False,
            ),
            settings,
        )

    by_id = {(s.mode, s.item_id): s for s in recorded.scores}
    assert all(s.status == "succeeded" for s in recorded.scores)
    assert sorted(q for q, _, _ in judged) == ["mh-03", "mh-03", "sh-01", "sh-01"]
    assert {model for _, model, _ in judged} == {JUDGE_MODEL}
    sent = next(p for q, _, p in judged if q == "mh-03")
    assert (
        sent["answerable"] is True and sent["gold_facts"] == [["Kessingford"], ["298,750"]] and sent["answer"]
    )
    for mode in ("baseline", "lite"):
        assert by_id[(mode, "sh-01")].judge_score == 1.0
        assert by_id[(mode, "mh-03")].judge_score == 0.25
        assert by_id[(mode, "mh-03")].details["judge"]["correct"] is False
        assert by_id[(mode, "na-01")].judge_score is None
        assert "400" in by_id[(mode, "na-01")].details["judge"]["error"]
        assert recorded.summaries[mode].metrics["judge_score"] == pytest.approx(0.625)
        assert by_id[(mode, "sh-01")].details["judge"]["input_tokens"] > 0
    info = recorded.run_info
    assert info["judge"] == JUDGE_MODEL and (info["judge_calls"], info["judge_failures"]) == (6, 2)
    assert info["judge_input_tokens"] > 0 and info["judge_output_tokens"] > 0 and info["judge_cost_usd"] > 0

    results = json.loads((tmp_path / "recorded" / "results.json").read_text())
    assert results["summary_by_mode"]["lite"]["metrics"]["judge_score"] == pytest.approx(0.625)
    assert {q["item_id"]: q["judge_score"] for q in results["questions"] if q["mode"] == "lite"} == {
        "sh-01": 1.0,
        "mh-03": 0.25,
        "na-01": None,
    }
    markdown = (tmp_path / "recorded" / "report.md").read_text()
    assert "LLM judge" in markdown and "Gives the city but not its population." in markdown
    assert json.loads(cassette.read_text().splitlines()[0])["meta"]["judge_model"] == JUDGE_MODEL

    # The server is gone: the verdicts come back from the cassette, or not at all with --no-judge.
    offline = GraphSettings(data_dir=tmp_path / "data")
    replayed = await run_eval(
        EvalConfig(
            dataset=three_questions,
            modes=("lite",),
            replay=cassette,
            out=tmp_path / "replayed",
            show_progress=False,
        ),
        offline,
    )
    assert replayed.cassette_misses == 0 and replayed.fingerprint == recorded.fingerprint
    unjudged = await run_eval(
        EvalConfig(
            dataset=three_questions,
            modes=("lite",),
            replay=cassette,
            judge=False,
            limit=1,
            out=tmp_path / "unjudged",
            show_progress=False,
        ),
        offline,
    )
    assert unjudged.cassette_misses == 0 and unjudged.run_info["judge"] == "none"
    assert [s.judge_score for s in unjudged.scores] == [None, None]


async def test_without_an_llm_there_is_no_judge_score_and_no_request(three_questions, tmp_path):
    with FakeOpenAI() as llm:
        # A base URL alone configures no LLM: nothing may reach it.
        settings = GraphSettings(openai_base_url=llm.base_url, data_dir=tmp_path / "data")
        run = await run_eval(
            EvalConfig(
                dataset=three_questions, modes=("lite",), limit=2, out=tmp_path / "out", show_progress=False
            ),
            settings,
        )
        with pytest.raises(EvalSetupError, match="--judge needs an LLM"):
            await run_eval(EvalConfig(dataset=three_questions, judge=True), settings)
    assert llm.requests == []
    assert [s.judge_score for s in run.scores] == [None] * 4
    assert all("judge" not in s.details for s in run.scores)
    assert all(summary.metrics["judge_score"] is None for summary in run.summaries.values())
    assert run.run_info["judge"] == "none" and "judge_calls" not in run.run_info


async def test_a_replay_cannot_judge_what_its_recording_did_not(three_questions, tmp_path):
    cassette = tmp_path / "unjudged.cassette.jsonl"
    cassette.write_text(
        json.dumps(
            {"meta": {"reasoner": "openai", "search": "corpus", "openai_base_url": "http://127.0.0.1:9/v1"}}
        )
        + "\n"
    )
    with pytest.raises(EvalSetupError, match="recorded without a judge"):
        await run_eval(
            EvalConfig(dataset=three_questions, replay=cassette, judge=True),
            GraphSettings(data_dir=tmp_path / "data"),
        )


def test_the_cli_refuses_judge_without_an_llm(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("INFRENCE_DATA_DIR", str(tmp_path / "data"))
    outcome = CliRunner().invoke(app, ["eval", "--judge", "--limit", "1", "--out", str(tmp_path / "out")])
    assert outcome.exit_code == 2
    assert outcome.stderr.splitlines() == [
        "infrence: --judge needs an LLM: set OPENAI_API_KEY (and OPENAI_BASE_URL if not OpenAI)"
    ]

"""The runner drives the real graph over the shipped corpus: offline, and recorded from fake OpenAI and
Tavily servers (plus a corpus website the reader fetches from) then replayed with every server gone."""

from __future__ import annotations

import dataclasses
import json

import pytest

from evals.cassette import Cassette
from evals.dataset import load_dataset
from evals.runner import (
    BASELINE,
    EvalConfig,
    EvalSetupError,
    build_baseline_graph,
    build_providers,
    describe_providers,
    mode_plan,
    run_eval,
    run_question,
)
from graph.settings import GraphSettings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tavily_server import FakeTavily

SUBSET = ("sh-01", "mh-03", "typed-01", "na-01")


@pytest.fixture
def subset_dataset(tmp_path):
    """Four questions of the shipped dataset: single-hop, multi-hop, typed and unanswerable."""
    path = tmp_path / "subset.jsonl"
    lines = [line for line in load_dataset_lines() if json.loads(line)["id"] in SUBSET]
    path.write_text("\n".join(lines) + "\n")
    return path


def load_dataset_lines() -> list[str]:
    from evals.dataset import DEFAULT_DATASET

    return [line for line in DEFAULT_DATASET.read_text().splitlines() if line.strip()]


@pytest.fixture
def offline_settings(tmp_path):
    return GraphSettings(data_dir=tmp_path / "data")


async def test_an_offline_run_scores_each_mode_against_the_baseline(
    subset_dataset, offline_settings, tmp_path
):
    run = await run_eval(
        EvalConfig(
            dataset=subset_dataset, modes=("lite", "standard"), out=tmp_path / "out", show_progress=False
        ),
        offline_settings,
    )

    assert list(run.summaries) == ["baseline", "lite", "standard"]
    assert [s.item_id for s in run.scores[:4]] == list(SUBSET)
    for summary in run.summaries.values():
        assert summary.questions == 4
        assert summary.metrics["citation_precision"] == 1.0
        assert summary.metrics["budget_adherence"] == 1.0
        assert summary.metrics["schema_validity"] == 1.0
    results = json.loads(run.files.results.read_text())
    assert results["fingerprint"] == run.fingerprint
    assert results["run"]["reasoner"] == "offline" and results["run"]["search"] == "corpus"
    assert "## Compared with the one-shot baseline" in run.files.markdown.read_text()
    assert run.files.quality_vs_cost_chart.stat().st_size > 0


async def test_an_offline_run_is_reproducible(subset_dataset, offline_settings, tmp_path):
    config = EvalConfig(dataset=subset_dataset, modes=("standard",), show_progress=False)
    first = await run_eval(dataclasses.replace(config, out=tmp_path / "a"), offline_settings)
    second = await run_eval(dataclasses.replace(config, out=tmp_path / "b"), offline_settings)
    assert first.fingerprint == second.fingerprint


async def test_the_baseline_is_one_search_and_one_synthesis_without_a_critic(offline_settings):
    item = next(i for i in load_dataset() if i.id == "mh-03")
    plan = mode_plan(BASELINE, None)
    graph = build_baseline_graph()
    providers = build_providers(
        offline_settings, describe_providers(offline_settings, "corpus"), EvalConfig().corpus, None
    )
    try:
        run = await run_question(graph, item, plan, providers)
    finally:
        await providers.aclose()

    assert "critic" not in graph.get_graph().nodes
    result = run.result
    assert (result["status"], result["wave_count"], result["usage"]["searches"]) == ("succeeded", 1, 1)
    assert 1 <= result["usage"]["pages"] <= 3 and result["credits_charged"] is None
    assert result["claims"] and all(
        c["url"] in {s["url"] for s in result["sources"]} for c in result["claims"]
    )


async def test_a_recorded_run_replays_offline_to_identical_results(subset_dataset, corpus_web, tmp_path):
    cassette = tmp_path / "run.cassette.jsonl"
    with FakeOpenAI() as llm, FakeTavily(corpus_web.search_documents(), raw_content=False) as tavily:
        live = GraphSettings(
            openai_api_key=llm.api_key,
            openai_base_url=llm.base_url,
            tavily_api_key=tavily.api_key,
            tavily_api_base=tavily.url,
            allow_private_urls=True,
            data_dir=tmp_path / "data",
        )
        recorded = await run_eval(
            EvalConfig(
                dataset=subset_dataset,
                modes=("lite",),
                search="tavily",
                record=cassette,
                out=tmp_path / "recorded",
                show_progress=False,
            ),
            live,
        )
        llm_calls, searches = len(llm.calls), len(tavily.calls)
    pages_fetched = len(corpus_web.requests)
    corpus_web.stop()

    assert llm_calls > 0 and searches > 0 and pages_fetched > 0
    header = json.loads(cassette.read_text().splitlines()[0])["meta"]
    assert header["reasoner"] == "openai" and header["search"] == "tavily"
    assert llm.api_key not in cassette.read_text() and tavily.api_key not in cassette.read_text()
    assert len(Cassette.replay(cassette)) == llm_calls + searches + pages_fetched

    # No keys, no servers: everything comes from the cassette.
    replayed = await run_eval(
        EvalConfig(
            dataset=subset_dataset,
            modes=("lite",),
            replay=cassette,
            out=tmp_path / "replayed",
            show_progress=False,
        ),
        GraphSettings(data_dir=tmp_path / "data"),
    )

    assert replayed.cassette_misses == 0
    assert replayed.run_info["reasoner"] == "openai" and replayed.run_info["search"] == "tavily"
    assert replayed.fingerprint == recorded.fingerprint
    on_disk = [
        json.loads((tmp_path / name / "results.json").read_text()) for name in ("recorded", "replayed")
    ]
    assert on_disk[0]["fingerprint"] == on_disk[1]["fingerprint"]
    assert (
        on_disk[0]["summary_by_mode"]["lite"]["metrics"] == on_disk[1]["summary_by_mode"]["lite"]["metrics"]
    )
    assert recorded.summaries["lite"].metrics["citation_precision"] == 1.0


async def test_a_replay_that_meets_an_unrecorded_request_says_so(subset_dataset, tmp_path):
    cassette = tmp_path / "empty.cassette.jsonl"
    cassette.write_text(
        json.dumps(
            {"meta": {"reasoner": "openai", "search": "corpus", "openai_base_url": "http://127.0.0.1:9/v1"}}
        )
        + "\n"
    )
    run = await run_eval(
        EvalConfig(
            dataset=subset_dataset,
            modes=("lite",),
            replay=cassette,
            limit=1,
            out=tmp_path / "out",
            show_progress=False,
        ),
        GraphSettings(data_dir=tmp_path / "data"),
    )
    assert run.cassette_misses > 0


async def test_setup_errors_are_refused_before_anything_runs(subset_dataset, offline_settings, tmp_path):
    with pytest.raises(EvalSetupError, match="either --record or --replay"):
        await run_eval(
            EvalConfig(dataset=subset_dataset, record=tmp_path / "a", replay=tmp_path / "b"), offline_settings
        )
    with pytest.raises(EvalSetupError, match="TAVILY_API_KEY"):
        await run_eval(
            EvalConfig(dataset=subset_dataset, search="tavily", out=tmp_path / "out"), offline_settings
        )
    headerless = tmp_path / "old.cassette.jsonl"
    headerless.write_text("")
    with pytest.raises(EvalSetupError, match="no header"):
        await run_eval(EvalConfig(dataset=subset_dataset, replay=headerless), offline_settings)

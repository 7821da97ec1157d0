"""Run the research graph over an eval dataset — per mode, plus a one-shot baseline — and score it.

    run = await run_eval(EvalConfig(modes=("lite", "standard")), GraphSettings.from_env())
    run.summaries["lite"].metrics["fact_recall"]; run.files.markdown

Search is the local corpus (`--corpus`, through the graph's own `CorpusSearch`) unless Tavily is
asked for; reasoning is the offline reasoner unless `OPENAI_API_KEY` is set. With a cassette every
provider HTTP exchange (LLM, Tavily, page fetches) goes through `evals.cassette`: recorded from the
real upstream, or replayed offline from the file, whose header names the providers to rebuild.
With an LLM configured, an LLM judge (`evals.judge`) also grades each answer, on the run's LLM client.

Runs are reproducible: the branches of a wave run one at a time (`max_concurrency=1`), because
siblings share a "taken URLs" set and which one reads a shared result would otherwise depend on
timing. Latency figures are therefore those of a sequential wave, an upper bound for the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from evals.cassette import Cassette
from evals.dataset import (
    DEFAULT_CORPUS,
    DEFAULT_DATASET,
    Corpus,
    EvalItem,
    load_corpus,
    load_dataset,
    original_text,
    source_texts,
)
from evals.judge import Judge
from evals.metrics import MODE_ORDER, QuestionScore, Summary, aggregate, score_result
from evals.report import ReportFiles, results_fingerprint, write_report
from graph.budget import ResearchBudgets
from graph.builder import build_graph
from graph.context import ResearchContext, corpus_search
from graph.modes import MODE_NAMES, ModePlan, plan_for
from graph.pricing import DEFAULT_PRICES
from graph.providers.llm import CALL_TIMEOUT_SECS, OpenAIReasoner
from graph.providers.netguard import guarded_transport, tls_context
from graph.providers.offline import OfflineReasoner
from graph.providers.pages import PageStore
from graph.providers.reader import PageReader
from graph.providers.reasoning import Reasoner, TypedOutputError
from graph.providers.search import SearchProvider, TavilySearch
from graph.result import result_fragment
from graph.settings import DEFAULT_MODEL, GraphSettings, ModelStage
from graph.state import live_claims

BASELINE = "baseline"
DEFAULT_MODES = ("lite", "standard", "pro")
DEFAULT_OUT = Path(__file__).resolve().parent / "out"
QUESTION_CONCURRENCY = 4
RECURSION_LIMIT = 64
# `max` is metered: evals run it with this credit cap.
MAX_MODE_EVAL_CREDITS = 400
SEARCH_BACKENDS = ("corpus", "tavily")
# A placeholder key for replay: clients insist on one, and nothing is sent anywhere.
REPLAY_KEY = "replayed-from-cassette"


class EvalSetupError(ValueError):
    """The run cannot start (bad modes, a cassette that does not fit the request...): one clear line."""


@dataclass(frozen=True)
class EvalConfig:
    dataset: Path = DEFAULT_DATASET
    corpus: Path = DEFAULT_CORPUS
    modes: tuple[str, ...] = DEFAULT_MODES
    out: Path = DEFAULT_OUT
    limit: int | None = None
    search: str = "corpus"
    record: Path | None = None
    replay: Path | None = None
    concurrency: int = QUESTION_CONCURRENCY
    show_progress: bool = True
    judge: bool | None = None  # None: judge when an LLM is configured (a replay: when its recording did)
    judge_model: str = DEFAULT_MODEL


@dataclass
class EvalRun:
    scores: list[QuestionScore]
    summaries: dict[str, Summary]
    files: ReportFiles
    fingerprint: str
    run_info: dict[str, Any]
    cassette_misses: int = 0
    elapsed_secs: float = 0.0


def parse_modes(text: str) -> tuple[str, ...]:
    """`lite,standard` -> ("lite", "standard"); the baseline always runs, so naming it is optional."""
    modes = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip() and m.strip() != BASELINE))
    unknown = [m for m in modes if m not in MODE_NAMES]
    if unknown:
        raise EvalSetupError(
            f"--modes: unknown mode {unknown[0]!r}; use {', '.join(MODE_NAMES)} (comma-separated)"
        )
    if not modes:
        raise EvalSetupError(f"--modes: name at least one of {', '.join(MODE_NAMES)}")
    return modes


# --- what each mode runs ----------------------------------------------------------------------


def baseline_budgets() -> ResearchBudgets:
    """One search, its top three results read, one synthesis: lite's cost and time caps."""
    lite = plan_for("lite").budgets
    return lite.with_changes(max_waves=1, branches=1, max_searches=1, max_pages=3, pages_per_branch=3)


def mode_plan(mode: str, response_schema: dict[str, Any] | None) -> ModePlan:
    if mode == BASELINE:
        lite = plan_for("lite", response_schema=response_schema)
        return replace(lite, mode=BASELINE, budgets=baseline_budgets())
    max_credits = MAX_MODE_EVAL_CREDITS if mode == "max" else None
    return plan_for(mode, max_credits=max_credits, response_schema=response_schema)


def build_baseline_graph() -> Any:
    """The research graph without the critic: with `baseline_budgets` that is one search and one
    synthesis, never a revision."""
    return build_graph(name="research-baseline", critic_review=False)


# --- providers --------------------------------------------------------------------------------


@dataclass
class Providers:
    """One client per upstream for the whole run; each question gets its own context around them."""

    reasoner: Reasoner
    search: SearchProvider
    reader: PageReader
    judge: Judge | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def context(self, budgets: ResearchBudgets) -> ResearchContext:
        return ResearchContext(
            budgets=budgets,
            reasoner=self.reasoner,
            search=self.search,
            reader=self.reader,
            pages=PageStore(None),
        )

    async def aclose(self) -> None:
        for closer in (self.reasoner, self.search, self.reader):
            await closer.aclose()
        for client in self.clients:
            await client.aclose()


def describe_providers(
    settings: GraphSettings, search: str, judge_model: str | None = None
) -> dict[str, Any]:
    """What a run talks to, without secrets: stored in a recording's header and in the report."""
    if search not in SEARCH_BACKENDS:
        raise EvalSetupError(f"--search: must be one of {', '.join(SEARCH_BACKENDS)}; got {search!r}")
    if search == "tavily" and not settings.tavily_api_key:
        raise EvalSetupError("--search tavily needs TAVILY_API_KEY")
    reasoner = "openai" if settings.openai_api_key else "offline"
    description: dict[str, Any] = {
        "reasoner": reasoner,
        "search": search,
        "allow_private_urls": settings.allow_private_urls,
    }
    if reasoner == "openai":
        description["openai_base_url"] = settings.openai_base_url
        description["models"] = {stage.value: settings.models[stage] for stage in ModelStage}
        if judge_model:
            description["judge_model"] = judge_model
    if search == "tavily":
        description["tavily_api_base"] = settings.tavily_api_base
    return description


def replay_settings(meta: Mapping[str, Any], settings: GraphSettings) -> GraphSettings:
    """The recorded run's providers, with placeholder keys (a replay sends nothing anywhere)."""
    values = {"data_dir": settings.data_dir, "allow_private_urls": bool(meta.get("allow_private_urls"))}
    if meta.get("reasoner") == "openai":
        values.update(
            openai_api_key=REPLAY_KEY,
            openai_base_url=meta.get("openai_base_url"),
            **{f"model_{stage}": name for stage, name in (meta.get("models") or {}).items()},
        )
    if meta.get("search") == "tavily":
        values.update(tavily_api_key=REPLAY_KEY, tavily_api_base=meta.get("tavily_api_base"))
    return GraphSettings.from_any(values)


def build_providers(
    settings: GraphSettings, description: Mapping[str, Any], corpus_dir: Path, cassette: Cassette | None
) -> Providers:
    """The reasoner, search and reader of a run; with a cassette, every HTTP client goes through it."""

    def through_cassette(upstream: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if cassette is None:
            return upstream
        return cassette.transport(upstream if cassette.mode == "record" else None)

    clients: list[httpx.AsyncClient] = []
    judge = None
    if description["reasoner"] == "openai":
        llm_http = httpx.AsyncClient(
            transport=through_cassette(httpx.AsyncHTTPTransport()),
            timeout=httpx.Timeout(CALL_TIMEOUT_SECS, connect=10.0),
        )
        clients.append(llm_http)
        reasoner: Reasoner = OpenAIReasoner(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            models=settings.models,
            prices=DEFAULT_PRICES,
            http_client=llm_http,
        )
        if description.get("judge_model"):
            judge = Judge(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
                model=description["judge_model"],
                http_client=llm_http,
            )
    else:
        reasoner = OfflineReasoner()
    if description["search"] == "tavily":
        search: SearchProvider = TavilySearch(
            settings.tavily_api_key,
            settings.tavily_api_base,
            transport=through_cassette(httpx.AsyncHTTPTransport(verify=tls_context())),
        )
    else:
        search = corpus_search(corpus_dir, settings.data_dir)
    # Pages go through the SSRF guard, then the cassette.
    reader = PageReader(
        transport=through_cassette(guarded_transport(allow_private=settings.allow_private_urls))
    )
    return Providers(reasoner=reasoner, search=search, reader=reader, judge=judge, clients=clients)


# --- one question -----------------------------------------------------------------------------


@dataclass
class QuestionRun:
    result: dict[str, Any]
    pages: dict[str, str]  # url -> text the run read, for sources outside the corpus


async def run_question(graph: Any, item: EvalItem, plan: ModePlan, providers: Providers) -> QuestionRun:
    """Run one question in one mode; the result is ResearchResult-shaped plus the graph's claims."""
    ctx = providers.context(plan.budgets)
    state: dict[str, Any] = {"question": item.question}
    status, error = "succeeded", None
    started = time.perf_counter()
    try:
        stream = graph.astream(
            {
                "question": item.question,
                "mode": "lite" if plan.mode == BASELINE else plan.mode,
                "response_schema": item.response_schema,
            },
            config={"recursion_limit": RECURSION_LIMIT, "max_concurrency": 1},
            context=ctx,
            stream_mode="values",
        )
        async for state in stream:  # noqa: B007 (the last state is the result)
            pass
    except TypedOutputError as exc:  # the job fails rather than return an invalid object
        status, error = "failed", str(exc)
    except Exception as exc:  # one broken question is a failed result, not a lost run
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    latency_ms = round((time.perf_counter() - started) * 1000)
    try:
        fragment = result_fragment(state)
        cited = set(state.get("cited") or ())
        claims = [
            {"url": c["url"], "quote": c["quote"], "text": c["text"]}
            for c in live_claims(state)
            if c["url"] in cited
        ]
        pages = {s["url"]: text for s in fragment["sources"] if (text := ctx.pages.get(s["url"])) is not None}
    finally:
        ctx.pages.close()
    credits = (
        None if plan.mode == BASELINE else plan.credits_for(fragment["cost_usd"], fragment["stop_reason"])
    )
    result = {
        "question": item.question,
        "mode": plan.mode,
        "status": status,
        "error": error,
        **fragment,
        "claims": claims,
        "latency_ms": latency_ms,
        "credits_charged": credits,
    }
    return QuestionRun(result=result, pages=pages)


# --- the run ----------------------------------------------------------------------------------


def choose_judge(
    config: EvalConfig, settings: GraphSettings, recorded: Mapping[str, Any] | None
) -> str | None:
    """The judge's model, or None for no judge. By default a run judges when an LLM is configured,
    and a replay when its recording did (the verdicts are in the cassette, nowhere else)."""
    if recorded is not None:
        if config.judge and not recorded.get("judge_model"):
            raise EvalSetupError(
                f"--judge: {config.replay} was recorded without a judge; re-record it with --judge"
            )
        return None if config.judge is False else recorded.get("judge_model")
    if not settings.openai_api_key:
        if config.judge:
            raise EvalSetupError(
                "--judge needs an LLM: set OPENAI_API_KEY (and OPENAI_BASE_URL if not OpenAI)"
            )
        return None
    return None if config.judge is False else config.judge_model


def corpus_texts(corpus: Corpus) -> dict[str, str]:
    """Each corpus document's original text (`original_text`: an HTML file's visible text, a text
    file as written) under each address a run may cite it by: the graph's corpus search names it
    `corpus://<path>`, a fake web serves it at `https://corpus.infrence.test/<path>`. Read from the
    files, not taken from the run, so a quote the run altered or misattributed fails."""
    from graph.providers.corpus import corpus_url

    served = {corpus_url(d.path): original_text(corpus.root / d.path) for d in corpus}
    return source_texts(corpus, served)


async def run_eval(config: EvalConfig, settings: GraphSettings) -> EvalRun:
    """Run every (mode, question), score, aggregate and write the report to `config.out`."""
    if config.record and config.replay:
        raise EvalSetupError("use either --record or --replay, not both")
    if config.limit is not None and config.limit < 1:
        raise EvalSetupError("--limit: must be at least 1")
    items = load_dataset(config.dataset)[: config.limit]
    corpus = load_corpus(config.corpus)
    cassette = None
    if config.replay:
        cassette = Cassette.replay(config.replay)
        if not cassette.meta:
            raise EvalSetupError(
                f"--replay: {config.replay} has no header naming its providers; re-record it"
            )
        settings = replay_settings(cassette.meta, settings)
        description = {**cassette.meta, "judge_model": choose_judge(config, settings, cassette.meta)}
    else:
        description = describe_providers(settings, config.search, choose_judge(config, settings, None))
        if config.record:
            cassette = Cassette.record(config.record, meta=description)
    modes = (BASELINE, *(m for m in config.modes if m != BASELINE))
    plans = {(mode, item.id): mode_plan(mode, item.response_schema) for mode in modes for item in items}
    texts = corpus_texts(corpus)
    run_info = {
        "dataset": _shown(config.dataset),
        "corpus": _shown(config.corpus),
        "questions": len(items),
        "modes": ", ".join(modes),
        "reasoner": description["reasoner"],
        "search": description["search"],
        "judge": description.get("judge_model") or "none",
        "cassette": f"{cassette.mode} {cassette.path}" if cassette is not None else "none",
    }

    providers = build_providers(settings, description, Path(config.corpus), cassette)
    graphs = {BASELINE: build_baseline_graph()}
    research_graph = build_graph()
    slots = asyncio.Semaphore(max(1, config.concurrency))
    started = time.perf_counter()
    scores: dict[tuple[str, str], QuestionScore] = {}

    async def one(mode: str, item: EvalItem, advance: Callable[[str], None]) -> None:
        plan = plans[(mode, item.id)]
        async with slots:
            run = await run_question(graphs.get(mode, research_graph), item, plan, providers)
            judgement = await providers.judge.judge(item, run.result) if providers.judge is not None else None
        scores[(mode, item.id)] = score_result(
            item,
            run.result,
            {**source_texts(run.pages), **texts},
            mode=mode,
            budgets=plan.budgets.as_dict(),
            judgement=judgement,
        )
        advance(mode)

    try:
        with _progress(config.show_progress, modes, len(items)) as advance:
            await asyncio.gather(*(one(mode, item, advance) for mode in modes for item in items))
    finally:
        await providers.aclose()
    ordered = [scores[(mode, item.id)] for mode in sorted(modes, key=MODE_ORDER.index) for item in items]
    elapsed = time.perf_counter() - started
    run_info["eval_secs"] = round(elapsed, 1)
    if providers.judge is not None:
        usage = providers.judge.usage
        run_info.update(
            judge_calls=usage.calls,
            judge_failures=usage.failures,
            judge_input_tokens=usage.input_tokens,
            judge_output_tokens=usage.output_tokens,
            judge_cost_usd=usage.cost_micro_usd / 1_000_000,
        )
    files = write_report(ordered, config.out, run_info=run_info)
    return EvalRun(
        scores=ordered,
        summaries=aggregate(ordered),
        files=files,
        fingerprint=results_fingerprint(ordered),
        run_info=run_info,
        elapsed_secs=elapsed,
        cassette_misses=len(cassette.misses) if cassette is not None else 0,
    )


@contextmanager
def _progress(enabled: bool, modes: tuple[str, ...], per_mode: int) -> Iterator[Callable[[str], None]]:
    """A rich progress bar per mode on stderr (or nothing): call `advance(mode)` after each question."""
    if not enabled:
        yield lambda mode: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        tasks = {mode: bar.add_task(mode, total=per_mode) for mode in modes}
        yield lambda mode: bar.advance(tasks[mode])


def committed_baseline(run: EvalRun) -> dict[str, Any]:
    """The `evals/baseline.json` a run would commit: fact recall per mode (what the gate reads),
    with the run's other figures beside it for reviewers."""
    return {
        "fact_recall": {mode: round(s.metrics["fact_recall"] or 0.0, 4) for mode, s in run.summaries.items()},
        "generated_by": "infrence eval --save-baseline",
        "run": {k: v for k, v in run.run_info.items() if k not in ("eval_secs", "cassette")},
        "metrics": {
            mode: {k: None if v is None else round(v, 4) for k, v in s.metrics.items()}
            for mode, s in run.summaries.items()
        },
    }


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is inside it (reports are committed)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)

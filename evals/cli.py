"""`infrence eval`: run the harness, write the report, optionally gate on regressions.

Heavy imports (the graph, matplotlib) happen inside the command, so `infrence --help` stays fast.
Usage errors are one line on stderr with exit code 2; a failed gate or an incomplete replay exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from evals.dataset import DEFAULT_CORPUS, DEFAULT_DATASET, EVALS_DIR

COMMITTED_BASELINE = EVALS_DIR / "baseline.json"


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"infrence: {message}", err=True)
    raise typer.Exit(code)


def eval_command(
    dataset: Path = typer.Option(
        DEFAULT_DATASET,
        "--dataset",
        show_default="evals/datasets/default.jsonl",
        help="JSONL questions (see evals/README.md).",
    ),
    corpus: Path = typer.Option(
        DEFAULT_CORPUS,
        "--corpus",
        show_default="evals/corpus",
        help="Folder of documents the questions are about.",
    ),
    modes: str = typer.Option(
        "lite,standard,pro", "--modes", help="Comma-separated modes; the one-shot baseline always runs."
    ),
    record: Path | None = typer.Option(
        None, "--record", help="Record every provider HTTP exchange to this cassette."
    ),
    replay: Path | None = typer.Option(None, "--replay", help="Replay a recorded cassette, offline."),
    out: Path | None = typer.Option(None, "--out", help="Report folder (default evals/out)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N questions."),
    search: str = typer.Option(
        "corpus", "--search", help="corpus (the --corpus folder) or tavily (TAVILY_API_KEY)."
    ),
    gate: bool = typer.Option(
        False, "--gate", help="Exit 1 when a regression gate fails (see evals/gates.py)."
    ),
    baseline: Path = typer.Option(
        COMMITTED_BASELINE,
        "--baseline",
        show_default="evals/baseline.json",
        help="The committed figures --gate compares with.",
    ),
    save_baseline: bool = typer.Option(
        False, "--save-baseline", help="Write this run's figures to --baseline."
    ),
    judge: bool | None = typer.Option(
        None,
        "--judge/--no-judge",
        show_default="on with OPENAI_API_KEY",
        help="Grade answers with an LLM judge (model: INFRENCE_MODEL_JUDGE).",
    ),
) -> None:
    """Run the research graph over an eval dataset per mode and a one-shot baseline, and report."""
    import asyncio

    from evals.cassette import CassetteError
    from evals.dataset import CorpusError, DatasetError
    from evals.gates import gate_failures, load_abstention_floor, load_committed_fact_recall
    from evals.judge import judge_model_from_env
    from evals.runner import (
        DEFAULT_OUT,
        EvalConfig,
        EvalSetupError,
        committed_baseline,
        parse_modes,
        run_eval,
    )
    from graph.settings import GraphSettings

    committed: dict[str, float] = {}
    abstention_floor = None
    if gate:
        try:
            committed = load_committed_fact_recall(baseline)
            abstention_floor = load_abstention_floor(baseline)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            _fail(f"--baseline: cannot read committed figures from {baseline}: {reason}")
    try:
        config = EvalConfig(
            dataset=dataset,
            corpus=corpus,
            modes=parse_modes(modes),
            out=out or DEFAULT_OUT,
            limit=limit,
            search=search,
            record=record,
            replay=replay,
            judge=judge,
            judge_model=judge_model_from_env(),
        )
        run = asyncio.run(run_eval(config, GraphSettings.from_env()))
    except (EvalSetupError, DatasetError, CorpusError, CassetteError) as exc:
        _fail(str(exc))
        raise  # unreachable
    except KeyboardInterrupt:
        raise typer.Exit(130) from None

    print_summary(run)
    if run.cassette_misses:
        _fail(
            f"{run.cassette_misses} request(s) were not in the cassette {replay}: this replay is not faithful "
            "(see evals/README.md, Cassettes)",
            code=1,
        )
    if save_baseline:
        figures = committed_baseline(run)
        if Path(baseline).is_file():  # a floor set by hand stays
            floor = json.loads(Path(baseline).read_text(encoding="utf-8")).get("abstention_floor")
            if floor is not None:
                figures["abstention_floor"] = floor
        figures = json.dumps(figures, indent=2, sort_keys=True)
        Path(baseline).write_text(figures + "\n", encoding="utf-8")
        typer.echo(f"baseline written to {baseline}")
    if gate:
        failures = gate_failures(run.summaries, committed, abstention_floor=abstention_floor)
        for failure in failures:
            typer.echo(f"gate failed: {failure}", err=True)
        if failures:
            raise typer.Exit(1)
        typer.echo("gates passed")


SUMMARY_COLUMNS = (
    ("recall", "fact_recall"),
    ("cite_prec", "citation_precision"),
    ("abstain", "abstention"),
    ("wrong_abst", "wrong_abstention"),
    ("support", "sentence_support"),
    ("typed", "typed_field_accuracy"),
    ("coverage", "citation_coverage"),
    ("unsupported", "unsupported_claim_rate"),
    ("schema", "schema_validity"),
    ("budget", "budget_adherence"),
    ("success", "success"),
    ("judge", "judge_score"),
)


def print_summary(run) -> None:
    """The per-mode figures on stdout, then where the report is."""
    info = run.run_info
    judged = f", judge {info['judge']}" if info.get("judge", "none") != "none" else ""
    typer.echo(
        f"{info['questions']} questions, {info['reasoner']} reasoner, {info['search']} search{judged}, "
        f"{run.elapsed_secs:.1f}s"
    )
    header = f"{'mode':<9}" + "".join(f"{label:>12}" for label, _ in SUMMARY_COLUMNS)
    typer.echo(header + f"{'mean_s':>9}{'mean_usd':>10}{'credits':>9}")
    for mode, summary in run.summaries.items():
        cells = "".join(
            f"{'-' if summary.metrics[m] is None else f'{summary.metrics[m]:.3f}':>12}"
            for _, m in SUMMARY_COLUMNS
        )
        typer.echo(
            f"{mode:<9}{cells}{(summary.latency_ms_mean or 0) / 1000:>9.2f}"
            f"{summary.cost_usd_mean or 0:>10.4f}{summary.credits_total:>9}"
        )
    typer.echo(f"report: {run.files.markdown} (fingerprint {run.fingerprint[:16]})")

"""`infrence research "question"`: run the graph locally with a live progress display.

Uses the same providers as the server (env: OPENAI_API_KEY, TAVILY_API_KEY, INFRENCE_CORPUS_DIR,
...); with no keys it runs fully offline on the local corpus. Progress goes to stderr, the
result to stdout (Markdown brief and numbered sources, or ResearchResult-shaped JSON).
Ctrl-C stops cleanly and prints what was found so far.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from graph.budget import ResearchBudgets


@dataclass
class Progress:
    """What the live display shows, folded from the graph's custom events."""

    budgets: ResearchBudgets
    started: float = field(default_factory=time.time)
    stage: str = "planning"
    wave: int = 0
    sources: list[str] = field(default_factory=list)
    failures: int = 0
    last: dict[str, Any] = field(default_factory=dict)

    def apply(self, event: dict[str, Any]) -> None:
        kind, data = event["type"], event["data"]
        if kind == "progress":
            self.last = data
        elif kind == "wave.started":
            self.wave, self.stage = data["wave"], f"wave {data['wave']}: {len(data['queries'])} searches"
        elif kind == "source":
            self.sources.append(data["title"] or data["url"])
        elif kind == "branch.failed":
            self.failures += 1
        elif kind == "gate" and not data["continue"]:
            self.stage = f"writing ({data['stop_reason']}: {data['reason']})"
        elif kind in ("critic", "cast"):
            self.stage = {"critic": "checking citations", "cast": "casting"}[kind]

    def render(self) -> Group:
        b, p = self.budgets, self.last
        table = Table.grid(padding=(0, 2))
        table.add_row("stage", self.stage)
        table.add_row("waves", f"{self.wave} / {b.max_waves}")
        table.add_row(
            "sources read", f"{len(self.sources)}" + (f"  ({self.failures} failed)" if self.failures else "")
        )
        table.add_row("searches", f"{p.get('searches', 0)} / {b.max_searches}")
        table.add_row("pages", f"{p.get('pages', 0)} / {b.max_pages}")
        table.add_row("spend", f"${p.get('cost_usd', 0):.4f} / ${b.max_cost_usd:.2f}")
        table.add_row("elapsed", f"{time.time() - self.started:.1f}s / {b.max_wallclock_secs}s")
        recent = Text("\n".join(f"  • {title}" for title in self.sources[-4:]), style="dim")
        return Group(table, recent)


def research(
    question: str = typer.Argument(..., help="What to research."),
    mode: str = typer.Option("standard", "--mode", help="lite | standard | pro | max"),
    max_credits: int | None = typer.Option(None, "--max-credits", help="Credit cap (required for max)."),
    schema: Path | None = typer.Option(None, "--schema", help="JSON Schema file for the typed output."),
    corpus: Path | None = typer.Option(None, "--corpus", help="Folder of documents to search offline."),
    json_output: bool = typer.Option(False, "--json", help="Print the ResearchResult-shaped JSON."),
) -> None:
    """Research a question locally and print a cited brief."""
    from graph.modes import InvalidResearchRequest, plan_for
    from graph.settings import GraphSettings

    err = Console(stderr=True)
    try:
        response_schema = json.loads(schema.read_text()) if schema else None
        plan = plan_for(mode, max_credits=max_credits, response_schema=response_schema)
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"[red]infrence: cannot read --schema: {exc}[/red]")
        raise typer.Exit(2) from None
    except InvalidResearchRequest as exc:
        err.print(f"[red]infrence: {exc}[/red]")
        raise typer.Exit(2) from None
    if corpus is not None and not corpus.is_dir():
        err.print(f"[red]infrence: --corpus {corpus} is not a folder[/red]")
        raise typer.Exit(2)
    settings = GraphSettings.from_env()
    if corpus is not None:
        settings = settings.model_copy(update={"corpus_dir": corpus})
    try:
        result = asyncio.run(run(question, plan.mode, plan.budgets, response_schema, settings, err))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if json_output:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print_result(result, Console(), show_typed=response_schema is not None)
    if result["status"] == "failed":
        raise typer.Exit(1)


async def run(
    question: str,
    mode: str,
    budgets: ResearchBudgets,
    response_schema: dict[str, Any] | None,
    settings: Any,
    err: Console,
) -> dict[str, Any]:
    """Stream the graph, fold events into the live display, and shape the result."""
    from graph.builder import build_graph
    from graph.context import build_context
    from graph.providers.reasoning import TypedOutputError
    from graph.result import result_fragment

    ctx = build_context(settings, budgets, page_store_path=None)
    progress = Progress(budgets)
    state: dict[str, Any] = {"question": question}
    status, error = "succeeded", None
    started = time.time()
    try:
        with Live(progress.render(), console=err, refresh_per_second=8, transient=True) as live:
            stream = build_graph().astream(
                {"question": question, "mode": mode, "response_schema": response_schema},
                config={"recursion_limit": 64},
                context=ctx,
                stream_mode=["custom", "values"],
            )
            async for kind, chunk in stream:
                if kind == "custom":
                    progress.apply(chunk)
                    live.update(progress.render())
                else:
                    state = chunk
    except asyncio.CancelledError:  # Ctrl-C: keep what was found
        status = "canceled"
        err.print("[yellow]stopped: printing what was found so far[/yellow]")
    except TypedOutputError as exc:
        status, error = "failed", str(exc)
    finally:
        await ctx.aclose()
    fragment = result_fragment(state, stop_reason="canceled" if status == "canceled" else None)
    return {
        "question": question,
        "mode": mode,
        "status": status,
        "error": error,
        **fragment,
        "latency_ms": round((time.time() - started) * 1000),
    }


def print_result(result: dict[str, Any], out: Console, *, show_typed: bool = False) -> None:
    if result["error"]:
        out.print(f"[red]failed: {result['error']}[/red]")
    out.print(Markdown(result["brief"] or "_no brief_"))
    if show_typed and result["typed"]:
        out.print_json(data=result["typed"])
    out.print()
    for n, source in enumerate(result["sources"], start=1):
        out.print(f"[bold][{n}][/bold] {source['title']} — {source['url']}")
    usage = result["usage"]
    out.print(
        f"\n[dim]{result['stop_reason']} · {result['wave_count']} waves · {usage['searches']} searches · "
        f"{usage['pages']} pages · {usage['tokens']} tokens · ${result['cost_usd']:.4f} · "
        f"{result['latency_ms'] / 1000:.1f}s[/dim]"
    )

"""wave: one `Send` branch — search one query, pick the best unread results, read, extract claims.

Page bodies stay inside the branch (and the page store); the branch returns claims with
verbatim quotes, source metadata and its spend. A provider failure is recorded and emitted,
never raised, so sibling branches keep running; the wave deadline cuts the branch short and
it returns what it finished.
"""

from __future__ import annotations

import asyncio
import time

from langgraph.runtime import Runtime

from graph.budget import BudgetExhausted, Meter, wave_deadline
from graph.context import ResearchContext
from graph.events import BRANCH_FAILED, SEARCH, SOURCE, emit
from graph.nodes.common import context_of
from graph.providers.reasoning import Page, ProviderUnavailable, StepBudget
from graph.providers.retry import was_refused, with_retries
from graph.providers.search import SearchResult, domain_of, failures_of
from graph.providers.text import clip, find_verbatim
from graph.relevance import PAGE_BAR, Focus, focus_of
from graph.state import Branch, Claim, ErrorRecord, SourceMeta, claim_id


async def wave(branch: Branch, runtime: Runtime[ResearchContext]) -> dict:
    ctx = context_of(runtime, branch.get("mode"))
    allowance = branch["allowance"]
    meter = Meter(
        cost_limit_micros=allowance["cost_micros"],
        search_limit=allowance["searches"],
        page_limit=allowance["pages"],
    )
    budget = StepBudget(meter, wave_deadline(branch["started_at"], ctx.budgets))
    claims: list[Claim] = []
    sources: dict[str, SourceMeta] = {}
    try:
        async with asyncio.timeout(max(0.0, budget.seconds_left())):
            found = await search(ctx, branch, budget)
            for failure in failures_of(found):  # a connector's trouble: recorded, never fatal
                fail(runtime, branch, budget.errors, "connector", failure)
            # Whatever the provider was told, a result outside the source policy is never read.
            results = [r for r in found if ctx.policy.allows(r.url, r.published)]
            focus = focus_of(branch["question"])
            focus = focus.discounting(
                focus.common_terms([f"{r.title}\n{r.raw_content or r.snippet}" for r in results])
            )
            relevant = [r for r in results if bears_on(focus, r)]
            emit(
                runtime,
                SEARCH,
                {
                    "wave": branch["wave"],
                    "query": branch["query"],
                    "results": len(results),
                    "relevant": len(relevant),
                    "off_policy": len(found) - len(results),
                    "provider": ctx.search.name,
                },
            )
            picked = pick(relevant, set(branch["seen_urls"]) | ctx.taken_urls, allowance["pages"])
            ctx.taken_urls.update(result.url for result in picked)
            await asyncio.gather(
                *(read_one(ctx, runtime, branch, focus, result, budget, claims, sources) for result in picked)
            )
    except ProviderUnavailable as exc:
        if exc.stage != "search":
            raise  # the model is down: the run stops, an outage is not a thin result
        # One query's search failed for good: recorded; the run fails only if every search did.
        fail(runtime, branch, budget.errors, "search", f"{exc.provider}: {exc.cause}")
    except TimeoutError:
        fail(runtime, branch, budget.errors, "deadline", "the wave deadline passed; partial results kept")
    except Exception as exc:  # isolate the branch: its siblings go on
        fail(runtime, branch, budget.errors, "search", f"{type(exc).__name__}: {clip(str(exc), 300)}")
    return {
        "claims": claims,
        "sources": sources,
        "spend": meter.spend,
        "errors": budget.errors,
        "queries_done": [branch["query"]],
    }


async def search(ctx: ResearchContext, branch: Branch, budget: StepBudget) -> list[SearchResult]:
    price = ctx.prices.search(ctx.search.name)

    async def attempt() -> list[SearchResult]:
        reserved = budget.meter.reserve(price, searches=1)
        try:
            return await ctx.search.search(branch["query"], ctx.max_results_per_search)
        except Exception as exc:
            if was_refused(exc):
                budget.meter.release(reserved, searches=1)
            raise

    try:
        return await with_retries(attempt, policy=ctx.retry, deadline=budget.deadline)
    except BudgetExhausted:
        raise
    except Exception as exc:
        raise ProviderUnavailable(ctx.search.name, "search", exc) from exc


def bears_on(focus: Focus, result: SearchResult) -> bool:
    """The relevance bar a result must pass to be read: its text (or, unread, its title and
    snippet, held to half the bar) must cover most of one sub-question's weighted terms."""
    if result.raw_content:
        return focus.coverage(f"{result.title}\n{result.raw_content}") >= PAGE_BAR
    return focus.coverage(f"{result.title}\n{result.snippet}") >= PAGE_BAR / 2


def pick(results: list[SearchResult], seen: set[str], limit: int) -> list[SearchResult]:
    """The best-scored results whose URL no earlier wave read, one per URL."""
    chosen: list[SearchResult] = []
    for result in sorted(results, key=lambda r: -r.score):
        if len(chosen) == limit:
            break
        if result.url not in seen and all(result.url != c.url for c in chosen):
            chosen.append(result)
    return chosen


async def read_one(
    ctx: ResearchContext,
    runtime: Runtime[ResearchContext],
    branch: Branch,
    focus: Focus,
    result: SearchResult,
    budget: StepBudget,
    claims: list[Claim],
    sources: dict[str, SourceMeta],
) -> None:
    """Read one result and extract its claims into `claims`/`sources`; failures are recorded."""
    try:
        page = await read(ctx, result, budget)
    except Exception as exc:
        fail(
            runtime, branch, budget.errors, "read", f"{type(exc).__name__}: {clip(str(exc), 300)}", result.url
        )
        return
    extraction = await ctx.reasoner.extract(
        branch["question"], branch["query"], page, ctx.findings_per_page, budget
    )
    found = []
    for finding in extraction.findings:
        span = find_verbatim(finding.quote, page.text)
        if span is None:  # a quote the page does not contain is not evidence
            budget.errors.append(
                {
                    "stage": "extract",
                    "wave": branch["wave"],
                    "url": page.url,
                    "error": f"quote not found in page, dropped: {clip(finding.quote, 120)}",
                }
            )
            continue
        quote = page.text[span[0] : span[1]]
        if not focus.sentence_is_relevant(f"{quote} {finding.text}", context=page.title):
            continue  # true, perhaps, but not about the question
        found.append(
            Claim(
                id=claim_id(page.url, quote),
                url=page.url,
                query=branch["query"],
                wave=branch["wave"],
                text=finding.text,
                quote=quote,
                start=span[0],
                end=span[1],
            )
        )
    await ctx.pages.aput(page.url, page.title, page.text)
    if not found:
        return  # read and paid for, but nothing in it bears on the question: not a source
    claims.extend(found)
    sources[page.url] = SourceMeta(
        url=page.url,
        title=page.title,
        domain=result.domain or domain_of(page.url),
        summary=extraction.summary,
        wave=branch["wave"],
        query=branch["query"],
    )
    emit(
        runtime,
        SOURCE,
        {
            "wave": branch["wave"],
            "url": page.url,
            "title": page.title,
            "domain": sources[page.url]["domain"],
            "claims": len(found),
        },
    )


async def read(ctx: ResearchContext, result: SearchResult, budget: StepBudget) -> Page:
    """The result's text: as the search provider returned it, else fetched through the reader."""
    if result.raw_content and result.raw_content.strip():
        budget.meter.reserve(ctx.prices.page, pages=1)
        return Page(url=result.url, title=result.title, text=result.raw_content)

    async def attempt() -> Page:
        reserved = budget.meter.reserve(ctx.prices.page, pages=1)
        try:
            page = await ctx.reader.fetch(result.url)
        except Exception as exc:
            if was_refused(exc):
                budget.meter.release(reserved, pages=1)
            raise
        return Page(url=page.url, title=page.title or result.title, text=page.text)

    return await with_retries(attempt, policy=ctx.retry, deadline=budget.deadline)


def fail(
    runtime: Runtime[ResearchContext],
    branch: Branch,
    errors: list[ErrorRecord],
    stage: str,
    message: str,
    url: str | None = None,
) -> None:
    record: ErrorRecord = {"stage": stage, "wave": branch["wave"], "query": branch["query"], "error": message}
    if url:
        record["url"] = url
    errors.append(record)
    emit(runtime, BRANCH_FAILED, {**record, "at": round(time.time() - branch["started_at"], 3)})

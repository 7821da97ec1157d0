"""The LLM reasoner: any OpenAI-compatible server through `ChatOpenAI`, one model per stage.

Every call uses structured output (`method="json_schema"`, `include_raw=True` so usage is
metered), reserves its worst-case cost first, runs under the node's deadline, and retries
transient failures. A call that cannot fit the budget, or whose answer does not parse, falls
back to the offline reasoner for that step and is recorded as an error — the run degrades, it
does not overspend. A provider that fails after its retries stops the run with
`ProviderUnavailable`: an outage is never hidden behind the offline answer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from typing import Any

import httpx
from langgraph.types import RetryPolicy

from graph.budget import BudgetExhausted
from graph.pricing import PriceTable
from graph.prompts import (
    CASTER_PROMPT,
    CRITIC_PROMPT,
    EXTRACTOR_PROMPT,
    FOLLOW_UPS_PROMPT,
    PLANNER_PROMPT,
    SUPPORT_PROMPT,
    WRITER_PROMPT,
)
from graph.providers.netguard import tls_context
from graph.providers.offline import OfflineReasoner, SchemaFiller
from graph.providers.reasoning import (
    Critique,
    Extraction,
    Finding,
    NumberedSource,
    Page,
    ProviderUnavailable,
    StepBudget,
    TypedOutputError,
)
from graph.providers.retry import DEFAULT_RETRY, was_refused, with_retries
from graph.providers.text import bm25_scores, clip, sentence_spans, terms
from graph.response_schema import SafeValidator, schema_work
from graph.settings import ModelStage

EXCERPT_CHARS = 6_000
FIELD_CHARS = 300  # cap on a query or title sent to the extractor
MIN_CALL_SECS = 1.0
CALL_TIMEOUT_SECS = 120.0
MAX_CAST_REPAIRS = 2
MAX_OUTPUT_TOKENS = {
    ModelStage.planner: 400,
    ModelStage.extractor: 700,
    ModelStage.writer: 1_500,
    ModelStage.critic: 400,
    ModelStage.caster: 2_000,
}
SUPPORT_ITEMS = 40  # sentences judged per call; more are judged offline


class StructuredOutputError(ValueError):
    """The model's answer did not parse against the requested structure."""


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_STRINGS = {"type": "array", "items": {"type": "string"}}
PLAN_SCHEMA = _obj({"queries": _STRINGS})
FOLLOW_UPS_SCHEMA = _obj({"queries": _STRINGS})
EXTRACTION_SCHEMA = _obj(
    {
        "summary": {"type": "string"},
        "findings": {
            "type": "array",
            "items": _obj({"claim": {"type": "string"}, "quote": {"type": "string"}}),
        },
    }
)
BRIEF_SCHEMA = _obj({"brief": {"type": "string"}})
CRITIQUE_SCHEMA = _obj({"answers_question": {"type": "boolean"}, "notes": _STRINGS})
SUPPORT_SCHEMA = _obj({"supported": {"type": "array", "items": {"type": "boolean"}}})


class OpenAIReasoner:
    """Reasoning through an OpenAI-compatible chat API, with the offline reasoner as its floor."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        models: Mapping[ModelStage, str],
        prices: PriceTable,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ):
        self.api_key = api_key
        self.base_url = base_url
        self.models = dict(models)
        self.prices = prices
        self.retry = retry
        self.offline = OfflineReasoner()
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(CALL_TIMEOUT_SECS, connect=10.0), verify=tls_context()
        )
        # Built here, not on first call: importing and constructing the client takes long
        # enough to blow a short deadline if it happened inside a timed step. No I/O yet.
        self._chats = {stage: self._build_chat(stage) for stage in MAX_OUTPUT_TOKENS}

    def _build_chat(self, stage: ModelStage) -> Any:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=self.models[stage],
            api_key=self.api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=CALL_TIMEOUT_SECS,
            use_responses_api=False,
            stream_usage=True,
            max_tokens=MAX_OUTPUT_TOKENS[stage],
            temperature=0,
            http_async_client=self._http,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def worst_case(self, stage: ModelStage, system: str, payload: str, schema: dict[str, Any]) -> int:
        prompt_bytes = len(system.encode()) + len(payload.encode()) + len(json.dumps(schema).encode())
        return self.prices.llm_worst_case(self.models[stage], prompt_bytes, 2, MAX_OUTPUT_TOKENS[stage])

    def extraction_worst_case(self, question: str) -> int:
        """Upper bound of one `extract` call, for the gate's allotment: the excerpt, query and title
        are capped in characters, and 4 bytes per character covers any UTF-8 text."""
        capped_chars = EXCERPT_CHARS + 2 * FIELD_CHARS + 200
        padding = "x" * (capped_chars * 4 + len(question.encode()))
        return self.worst_case(ModelStage.extractor, EXTRACTOR_PROMPT, padding, EXTRACTION_SCHEMA)

    async def call(
        self,
        stage: ModelStage,
        schema_name: str,
        schema: dict[str, Any],
        system: str,
        payload: dict[str, Any],
        budget: StepBudget,
        *,
        strict: bool = True,
    ) -> Any:
        """One structured call: reserve worst case, call with retries under the deadline, meter usage."""
        user = "INPUT:\n" + json.dumps(payload, ensure_ascii=False)
        worst = self.worst_case(stage, system, user, schema)
        model = self.models[stage]
        runnable = self._chats[stage].with_structured_output(
            {"name": schema_name, "schema": schema, "strict": strict}, method="json_schema", include_raw=True
        )
        messages = [("system", system), ("human", user)]

        async def attempt() -> Any:
            seconds = budget.seconds_left()
            if seconds < MIN_CALL_SECS:
                raise BudgetExhausted(f"{stage}: {seconds:.1f}s left before the deadline")
            reserved = budget.meter.reserve(worst, llm_calls=1)
            try:
                async with asyncio.timeout(min(CALL_TIMEOUT_SECS, seconds)):
                    result = await runnable.ainvoke(messages)
            except Exception as exc:
                if was_refused(exc):
                    budget.meter.release(reserved, llm_calls=1)
                raise
            usage = result["raw"].usage_metadata or {}
            tokens_in, tokens_out = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
            budget.meter.settle(
                reserved, self.prices.llm_cost(model, tokens_in, tokens_out), tokens=tokens_in + tokens_out
            )
            if result.get("parsing_error") or result.get("parsed") is None:
                raise StructuredOutputError(f"{stage}: {result.get('parsing_error') or 'empty answer'}")
            return result["parsed"]

        return await with_retries(attempt, policy=self.retry, deadline=budget.deadline)

    async def _or_offline(self, stage: str, budget: StepBudget, online, offline):
        try:
            return await online()
        except (
            BudgetExhausted,
            StructuredOutputError,
            TimeoutError,
        ) as exc:  # no room or time, or no usable answer
            budget.errors.append({"stage": stage, "error": f"{type(exc).__name__}: {clip(str(exc), 300)}"})
            return await offline()
        except Exception as exc:  # the provider failed after its retries: stop, say so
            raise ProviderUnavailable(self.name, stage, exc) from exc

    async def support(self, pairs: list[tuple[str, list[str]]], budget: StepBudget) -> list[bool]:
        """A judging call: does each sentence's cited evidence carry it? Lexical entailment is the
        floor when the call does not fit the budget."""

        async def online():
            items = [
                {"sentence": sentence, "quotes": [clip(q, 600) for q in quotes[:6]]}
                for sentence, quotes in pairs[:SUPPORT_ITEMS]
            ]
            parsed = await self.call(
                ModelStage.critic, "support", SUPPORT_SCHEMA, SUPPORT_PROMPT, {"items": items}, budget
            )
            verdicts = [bool(v) for v in parsed["supported"]]
            if len(verdicts) != len(items):
                raise StructuredOutputError(f"support: {len(verdicts)} verdicts for {len(items)} sentences")
            rest = await self.offline.support(pairs[SUPPORT_ITEMS:])
            return verdicts + rest

        return await self._or_offline("critic", budget, online, lambda: self.offline.support(pairs))

    async def plan(self, question: str, count: int, budget: StepBudget) -> list[str]:
        async def online():
            parsed = await self.call(
                ModelStage.planner,
                "plan",
                PLAN_SCHEMA,
                PLANNER_PROMPT,
                {"question": question, "count": count},
                budget,
            )
            queries = [q.strip() for q in parsed["queries"] if q.strip()]
            if not queries:
                raise StructuredOutputError("planner returned no queries")
            return list(dict.fromkeys([question.strip(), *queries]))[: max(count, 1)]

        return await self._or_offline("plan", budget, online, lambda: self.offline.plan(question, count))

    async def follow_ups(
        self, question: str, findings: list[str], done: list[str], count: int, budget: StepBudget
    ) -> list[str]:
        async def online():
            parsed = await self.call(
                ModelStage.planner,
                "follow_ups",
                FOLLOW_UPS_SCHEMA,
                FOLLOW_UPS_PROMPT,
                {
                    "question": question,
                    "findings": [clip(f, 300) for f in findings[:40]],
                    "done": done,
                    "count": count,
                },
                budget,
            )
            done_lower = {d.lower() for d in done}
            return [
                q
                for q in dict.fromkeys(q.strip() for q in parsed["queries"])
                if q and q.lower() not in done_lower
            ][:count]

        return await self._or_offline(
            "follow_ups", budget, online, lambda: self.offline.follow_ups(question, findings, done, count)
        )

    async def extract(
        self, question: str, query: str, page: Page, max_findings: int, budget: StepBudget
    ) -> Extraction:
        async def online():
            parsed = await self.call(
                ModelStage.extractor,
                "extraction",
                EXTRACTION_SCHEMA,
                EXTRACTOR_PROMPT,
                {
                    "question": question,
                    "query": query[:FIELD_CHARS],
                    "max_findings": max_findings,
                    "title": page.title[:FIELD_CHARS],
                    "page": excerpt(page.text, question, query),
                },
                budget,
            )
            findings = [
                Finding(text=f["claim"].strip(), quote=f["quote"])
                for f in parsed["findings"]
                if f["claim"].strip() and f["quote"].strip()
            ]
            return Extraction(summary=clip(parsed["summary"].strip(), 600), findings=findings[:max_findings])

        return await self._or_offline(
            "extract", budget, online, lambda: self.offline.extract(question, query, page, max_findings)
        )

    async def write(
        self,
        question: str,
        sources: list[NumberedSource],
        notes: list[str],
        budget: StepBudget,
        *,
        language: str | None = None,
    ) -> str:
        async def online():
            parsed = await self.call(
                ModelStage.writer,
                "brief",
                BRIEF_SCHEMA,
                WRITER_PROMPT,
                {
                    "question": question,
                    "notes": notes,
                    "sources": [{"n": s.n, "title": s.title, "claims": s.claims} for s in sources],
                    **_language(language),
                },
                budget,
            )
            if not parsed["brief"].strip():
                raise StructuredOutputError("writer returned an empty brief")
            return parsed["brief"].strip()

        return await self._or_offline(
            "write", budget, online, lambda: self.offline.write(question, sources, notes)
        )

    async def critique(self, question: str, brief: str, budget: StepBudget) -> Critique:
        async def online():
            parsed = await self.call(
                ModelStage.critic,
                "critique",
                CRITIQUE_SCHEMA,
                CRITIC_PROMPT,
                {"question": question, "brief": brief},
                budget,
            )
            return Critique(
                answers_question=bool(parsed["answers_question"]),
                notes=[n for n in parsed["notes"] if n.strip()],
            )

        return await self._or_offline(
            "critic", budget, online, lambda: self.offline.critique(question, brief)
        )

    async def cast(
        self,
        question: str,
        schema: dict[str, Any],
        brief: str,
        sources: list[NumberedSource],
        budget: StepBudget,
        *,
        language: str | None = None,
    ) -> tuple[Any, int]:
        """Cast with the model, repairing up to twice; with no room for a model call, fill offline.

        Raises TypedOutputError when no valid object results: never returns an invalid one.
        """
        validator = SafeValidator(schema)
        payload: dict[str, Any] = {
            "question": question,
            "brief": brief,
            "sources": [{"n": s.n, "title": s.title, "claims": s.claims} for s in sources],
            **_language(language),
        }
        errors: list[str] = []
        violations: list[Any] = []
        for repairs in range(MAX_CAST_REPAIRS + 1):
            if errors:
                payload["errors"] = errors
            try:
                value = await self.call(
                    ModelStage.caster, "typed_result", schema, CASTER_PROMPT, payload, budget, strict=False
                )
            except StructuredOutputError as exc:
                errors, violations = [str(exc)], []
                continue
            except BudgetExhausted as exc:  # no room for the model: fill offline, if first try
                if repairs:
                    raise TypedOutputError(f"cast stopped before a valid object: {exc}") from exc
                budget.errors.append(
                    {"stage": "cast", "error": f"{type(exc).__name__}: {clip(str(exc), 300)}"}
                )
                return SchemaFiller(question, brief, sources).fill_valid(schema), 0
            except Exception as exc:
                raise ProviderUnavailable(self.name, "cast", exc) from exc
            with schema_work():
                violations = list(itertools.islice(validator.iter_errors(value), 10))
            errors = [f"at /{'/'.join(str(p) for p in e.path)}: {e.message}" for e in violations]
            if not errors:
                return value, repairs
        # Name keywords and paths only: the model's values may quote the sources.
        where = "; ".join(f"{e.validator} at /{'/'.join(str(p) for p in e.path)}" for e in violations)
        where = where or "no parseable object"
        raise TypedOutputError(
            f"the model's output does not match the response schema after {MAX_CAST_REPAIRS} repairs: {where[:500]}"
        )


def _language(tag: str | None) -> dict[str, str]:
    """The payload key the writer and caster prompts read; absent when none was asked for."""
    return {"output_language": tag} if tag else {}


def excerpt(text: str, question: str, query: str, limit: int = EXCERPT_CHARS) -> str:
    """The passages of a page most relevant to the query, in page order, within `limit` chars."""
    if len(text) <= limit:
        return text
    spans = sentence_spans(text, min_chars=1, max_chars=2_000)
    scores = bm25_scores(terms(query) + terms(question), [terms(text[a:b]) for a, b in spans])
    chosen, size = [], 0
    for i in sorted(range(len(spans)), key=lambda i: (-scores[i], i)):
        a, b = spans[i]
        if size + (b - a) + 1 > limit:
            continue
        chosen.append(i)
        size += b - a + 1
    return "\n".join(text[spans[i][0] : spans[i][1]] for i in sorted(chosen)) or text[:limit]

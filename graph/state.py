"""The research state: ids, claims with their quotes, source metadata and spend — never page bodies.

Everything here is plain JSON-able data (TypedDicts), so checkpoints stay small and portable.
Keys written by parallel branches carry a reducer.
"""

from __future__ import annotations

import hashlib
import operator
from typing import Annotated, Any, NotRequired, Required, TypedDict

from graph.budget import Allowance, Spend, add_spend


class Claim(TypedDict):
    id: str  # stable: hash of url + quote, so a re-run branch yields the same ids
    url: str
    query: str
    wave: int
    text: str  # the finding, in the extractor's words
    quote: str  # verbatim slice of the source's stored text: text[start:end]
    start: NotRequired[int]
    end: NotRequired[int]


class SourceMeta(TypedDict):
    url: str
    title: str
    domain: str
    summary: str  # 1-3 sentences written from what was read
    wave: int
    query: str


class ErrorRecord(TypedDict):
    stage: str  # plan | search | connector | read | extract | follow_ups | write | critic | cast
    error: str
    wave: NotRequired[int]
    query: NotRequired[str]
    url: NotRequired[str]


class Branch(TypedDict):
    """The `Send` payload of one wave branch: one query and what it may spend."""

    question: str
    mode: str
    query: str
    wave: int
    index: int
    allowance: Allowance
    started_at: float
    seen_urls: list[str]


def merge_sources(
    left: dict[str, SourceMeta] | None, right: dict[str, SourceMeta] | None
) -> dict[str, SourceMeta]:
    """Reducer: the first read of a URL wins, so its summary and wave stay stable."""
    merged = dict(right or {})
    merged.update(left or {})
    return merged


class ResearchInput(TypedDict, total=False):
    """What a caller passes to `graph.ainvoke`."""

    question: Required[str]
    mode: str
    response_schema: dict[str, Any] | None
    started_at: float  # epoch seconds the wall-clock budget counts from (default: first step)
    output_language: str | None  # BCP 47 tag the brief and typed strings are written in (LLM path)
    # A follow-up starts from an earlier run: its question and queries, and the claims and
    # sources it found (seeded here with wave 0, so they are cited, never read again).
    previous_question: str
    previous_queries: list[str]
    claims: list[Claim]
    sources: dict[str, SourceMeta]
    plan_approval: bool  # stop after planning until the caller resumes with the queries to run


class ResearchState(TypedDict, total=False):
    question: str
    mode: str
    response_schema: dict[str, Any] | None
    started_at: float
    output_language: str | None
    previous_question: str
    previous_queries: list[str]
    pending_queries: list[str]  # planned, not yet searched
    queries_done: Annotated[list[str], operator.add]
    claims: Annotated[list[Claim], operator.add]
    sources: Annotated[dict[str, SourceMeta], merge_sources]
    spend: Annotated[Spend, add_spend]
    errors: Annotated[list[ErrorRecord], operator.add]
    waves_done: int
    synthesis_headroom: dict[str, float]  # secs and USD left when the gate stopped
    brief: str
    cited: list[str]  # source URLs in citation order: [n] = cited[n-1]
    dropped_claims: list[str]
    critic_notes: list[str]
    revisions: int
    typed: dict[str, Any] | None
    basis: list[dict[str, Any]]
    cast_repairs: int
    stop_reason: str
    reasoner: str  # offline | openai: who planned, extracted and wrote
    faithfulness: dict[str, int]  # brief sentences checked, supported, removed
    plan_approval: bool
    extension: int  # how many times the finished run was continued with a larger budget


def claim_id(url: str, quote: str) -> str:
    return hashlib.sha1(f"{url}\n{quote}".encode()).hexdigest()[:12]


def live_claims(state: ResearchState) -> list[Claim]:
    """Claims still standing after the critic, deduplicated by id, in discovery order."""
    dropped = set(state.get("dropped_claims") or ())
    seen: set[str] = set()
    kept = []
    for claim in state.get("claims") or ():
        if claim["id"] not in dropped and claim["id"] not in seen:
            seen.add(claim["id"])
            kept.append(claim)
    return kept

"""What a reasoner does for the graph, whichever model is behind it (an LLM or the offline one).

Nodes call a `Reasoner`; each call carries a `StepBudget` (the node's meter, the deadline and
a list collecting recorded errors), so a reasoner can refuse or degrade a call that would not
fit, and say so, instead of exceeding a cap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph.budget import Meter, Spend
from graph.providers.text import printable
from graph.state import ErrorRecord


@dataclass
class StepBudget:
    """The limits one node's reasoning runs under."""

    meter: Meter
    deadline: float  # epoch seconds
    errors: list[ErrorRecord] = field(default_factory=list)

    def seconds_left(self) -> float:
        return self.deadline - time.time()


@dataclass(frozen=True)
class Page:
    """A page as read: main text, kept out of graph state. Control characters are dropped on
    the way in, whichever provider read it (see `printable`)."""

    url: str
    title: str
    text: str

    def __post_init__(self) -> None:
        for name in ("url", "title", "text"):
            object.__setattr__(self, name, printable(getattr(self, name)))


@dataclass(frozen=True)
class Finding:
    text: str
    quote: str


@dataclass(frozen=True)
class Extraction:
    summary: str
    findings: list[Finding]


@dataclass(frozen=True)
class NumberedSource:
    """A source as the writer sees it: its number n and the claims it supports."""

    n: int
    url: str
    title: str
    claims: list[str]


@dataclass(frozen=True)
class Critique:
    answers_question: bool
    notes: list[str]


class Reasoner(Protocol):
    name: str

    async def plan(self, question: str, count: int, budget: StepBudget) -> list[str]: ...

    async def follow_ups(
        self, question: str, findings: list[str], done: list[str], count: int, budget: StepBudget
    ) -> list[str]: ...

    async def extract(
        self, question: str, query: str, page: Page, max_findings: int, budget: StepBudget
    ) -> Extraction: ...

    async def write(
        self,
        question: str,
        sources: list[NumberedSource],
        notes: list[str],
        budget: StepBudget,
        *,
        language: str | None = None,
    ) -> str:
        """The cited brief; in `language` (a BCP 47 tag) when the reasoner can write one."""
        ...

    async def critique(self, question: str, brief: str, budget: StepBudget) -> Critique: ...

    async def support(self, pairs: list[tuple[str, list[str]]], budget: StepBudget) -> list[bool]:
        """For each (sentence, quotes it cites): do the quotes support the sentence?"""
        ...

    async def cast(
        self,
        question: str,
        schema: dict[str, Any],
        brief: str,
        sources: list[NumberedSource],
        budget: StepBudget,
        *,
        language: str | None = None,
    ) -> tuple[Any, int]: ...

    def extraction_worst_case(self, question: str) -> int: ...

    async def aclose(self) -> None: ...


class TypedOutputError(Exception):
    """No object that validates against the client's response schema could be produced: the
    job fails on the client's input (and is charged its metered spend, never above the price).

    `spend` is what the failing cast spent: its state update is lost when the node raises."""

    spend: Spend | None = None


class ProviderUnavailable(Exception):
    """A provider failed after its retries. The run stops and says which one and where: an
    outage is never papered over with a silent fallback, and never billed."""

    code = "provider_unavailable"

    def __init__(self, provider: str, stage: str, cause: BaseException):
        self.provider = provider
        self.stage = stage
        self.cause = f"{type(cause).__name__}: {str(cause)[:300]}"
        super().__init__(f"provider {provider} unavailable at stage {stage}: {self.cause}")

    def as_record(self) -> ErrorRecord:
        return {"stage": self.stage, "error": f"{self.provider}: {self.cause}"}

"""An LLM judge of answer correctness, beside the string metrics (issue 10).

String matching misses a right answer worded differently and credits a wrong one that happens to
contain the gold words; a model reading the answer next to the gold facts catches both. It only
runs with an LLM configured (the graph's `OPENAI_API_KEY` / `OPENAI_BASE_URL`; the model is
`INFRENCE_MODEL_JUDGE`, else the graph's default) — without one there is no judge and no score,
never a stand-in value.

    judge = Judge(api_key=..., base_url=..., model="gpt-4.1-mini", http_client=llm_http)
    judgement = await judge.judge(item, result)   # .score 0..1, .correct, .reason, tokens

Its calls go through the same HTTP client as the run's LLM, so a cassette records and replays them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field, field_validator

from evals.dataset import EvalItem
from graph.pricing import DEFAULT_PRICES, PriceTable
from graph.settings import DEFAULT_MODEL

JUDGE_MODEL_ENV = "INFRENCE_MODEL_JUDGE"
MAX_ANSWER_CHARS = 12_000  # the brief and typed object sent for judging; longer ones are clipped
MAX_OUTPUT_TOKENS = 400
# The SDK retries rate limits and 5xx with backoff; a judge that still fails leaves that score unknown.
MAX_RETRIES = 2

JUDGE_PROMPT = (
    "You grade answers of a research assistant. INPUT.question was asked; INPUT.answer is the brief it "
    "wrote (Markdown with [n] citation markers) and INPUT.typed its structured answer. When "
    "INPUT.answerable is true, INPUT.gold_facts lists the facts a correct answer states (each fact with "
    "its accepted wordings) and INPUT.expected_fields any expected typed values: the answer is correct "
    "when it states every gold fact, in any wording, and contradicts none. When INPUT.answerable is "
    "false, the sources do not contain the answer: it is correct only if it says so instead of giving "
    "one. Judge correctness only, not style or citations. `score` is from 0 (wrong or no answer) to 1 "
    "(fully correct), partial credit for some facts; `reason` is one sentence."
)


def judge_model_from_env(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(JUDGE_MODEL_ENV) or DEFAULT_MODEL


class Verdict(BaseModel):
    """What the judge answers (its JSON schema is named `Verdict`)."""

    correct: bool = Field(description="Whether the answer is correct.")
    score: float = Field(description="0 (wrong) to 1 (fully correct).")
    reason: str = Field(description="One sentence on why.")

    @field_validator("score")
    @classmethod
    def _in_unit_range(cls, value: float) -> float:
        # Checked here, not as schema bounds, which not every OpenAI-compatible server accepts.
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"score must be between 0 and 1, got {value}")
        return value


@dataclass(frozen=True)
class Judgement:
    """One judged answer. `score` is None when the judge could not answer (`error` says why)."""

    model: str
    score: float | None
    correct: bool | None = None
    reason: str = ""
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JudgeUsage:
    """What judging a run took, reported beside (never inside) the research spend."""

    calls: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0

    def add(self, judgement: Judgement, cost_micro_usd: int) -> None:
        self.calls += 1
        self.failures += judgement.score is None
        self.input_tokens += judgement.input_tokens
        self.output_tokens += judgement.output_tokens
        self.cost_micro_usd += cost_micro_usd


def judge_input(item: EvalItem, result: Mapping[str, Any]) -> dict[str, Any]:
    """What the judge reads: the question, the gold answer and what the run answered."""
    typed = json.dumps(result.get("typed") or {}, ensure_ascii=False)
    return {
        "question": item.question,
        "answerable": item.answerable,
        "gold_facts": [list(fact) for fact in item.facts],
        "expected_fields": dict(item.expected or {}),
        "answer": (result.get("brief") or "")[:MAX_ANSWER_CHARS],
        "typed": typed[:MAX_ANSWER_CHARS],
    }


class Judge:
    """Grades one answer per call through an OpenAI-compatible chat API."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        http_client: httpx.AsyncClient,
        prices: PriceTable = DEFAULT_PRICES,
    ):
        from langchain_openai import ChatOpenAI

        self.model = model
        self.prices = prices
        self.usage = JudgeUsage()
        chat = ChatOpenAI(
            model=model,
            api_key=api_key,
            base_url=base_url,
            max_retries=MAX_RETRIES,
            use_responses_api=False,
            max_tokens=MAX_OUTPUT_TOKENS,
            temperature=0,
            http_async_client=http_client,
        )
        self._runnable = chat.with_structured_output(Verdict, method="json_schema", include_raw=True)

    async def judge(self, item: EvalItem, result: Mapping[str, Any]) -> Judgement:
        """A failed run is not sent: no answer is a wrong answer. A judge that fails is recorded as
        such, with no score."""
        if result.get("status") != "succeeded":
            return Judgement(model=self.model, score=0.0, correct=False, reason="The run failed: no answer.")
        messages = [
            ("system", JUDGE_PROMPT),
            ("human", "INPUT:\n" + json.dumps(judge_input(item, result), ensure_ascii=False)),
        ]
        try:
            answer = await self._runnable.ainvoke(messages)
        except Exception as exc:  # one unjudged answer is an unknown score, not a lost run
            judgement = Judgement(model=self.model, score=None, error=f"{type(exc).__name__}: {exc}"[:300])
            self.usage.add(judgement, 0)
            return judgement
        usage = answer["raw"].usage_metadata or {}
        tokens = {
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
        }
        verdict: Verdict | None = answer.get("parsed")
        if answer.get("parsing_error") or verdict is None:
            error = str(answer.get("parsing_error") or "empty answer")[:300]
            judgement = Judgement(
                model=self.model, score=None, error=f"unparseable verdict: {error}", **tokens
            )
        else:
            judgement = Judgement(
                model=self.model,
                score=verdict.score,
                correct=verdict.correct,
                reason=verdict.reason,
                **tokens,
            )
        self.usage.add(
            judgement, self.prices.llm_cost(self.model, tokens["input_tokens"], tokens["output_tokens"])
        )
        return judgement

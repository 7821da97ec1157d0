"""The OpenAI reasoner against a fake OpenAI server over real HTTP: rate limits that ask for a
wait, server errors, answers slower than the deadline, refusals in structured output, and the
retry policy's own rules. Each failure degrades to the offline reasoner and is metered honestly:
a refused call costs nothing, a call cut off mid-flight costs its worst case."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from langgraph.types import RetryPolicy

from graph.budget import Meter
from graph.pricing import DEFAULT_PRICES
from graph.prompts import PLANNER_PROMPT
from graph.providers.llm import EXCERPT_CHARS, PLAN_SCHEMA, OpenAIReasoner, StructuredOutputError
from graph.providers.offline import OfflineReasoner
from graph.providers.reasoning import NumberedSource, Page, ProviderUnavailable, StepBudget
from graph.providers.retry import is_transient, retry_after_secs, was_refused, with_retries
from graph.settings import ModelStage
from tests.fakes.openai_server import Refusal

QUESTION = "How efficient are heat pumps in cold climates?"
MODEL = "gpt-4o-mini"
SCHEMA = {
    "type": "object",
    "properties": {"headline": {"type": "string"}, "cop": {"type": "number", "minimum": 1}},
    "required": ["headline", "cop"],
    "additionalProperties": False,
}
SOURCES = [NumberedSource(1, "https://energy.example/a", "Heat pumps", ["Heat pumps reach a COP of 3."])]


@pytest.fixture
async def reasoner(llm):
    llm.usage = lambda request, content: (100, 20)
    reasoner = OpenAIReasoner(
        api_key=llm.api_key,
        base_url=llm.base_url,
        models=dict.fromkeys(ModelStage, MODEL),
        prices=DEFAULT_PRICES,
    )
    yield reasoner
    await reasoner.aclose()


def step(seconds: float = 60.0) -> StepBudget:
    return StepBudget(meter=Meter(), deadline=time.time() + seconds)


def one_call_costs() -> int:
    return DEFAULT_PRICES.llm_cost(MODEL, 100, 20)


async def offline_plan() -> list[str]:
    return await OfflineReasoner().plan(QUESTION, 3)


def model_plan() -> list[str]:
    return [QUESTION, f"{QUESTION} overview", f"{QUESTION} evidence"]


# --- rate limits, server errors, timeouts, refusals ---------------------------------------------


async def test_a_rate_limit_is_retried_no_sooner_than_retry_after_asks(reasoner, llm):
    llm.fail_when(lambda name, _: name == "plan", status=429, headers={"Retry-After": "1.5"})
    budget = step()
    started = time.monotonic()
    queries = await reasoner.plan(QUESTION, 3, budget)
    assert time.monotonic() - started >= 1.5  # our own backoff alone would wait ~0.3 s
    assert queries == model_plan()
    assert len(llm.calls_for("plan")) == 2 and budget.errors == []
    # The refused attempt was not billed; the answered one is, at its reported usage.
    assert budget.meter.spend["cost_micros"] == one_call_costs()
    assert budget.meter.spend["llm_calls"] == 1


async def test_a_retry_after_past_the_deadline_gives_up_at_once(reasoner, llm):
    llm.fail_when(lambda name, _: name == "plan", status=429, headers={"Retry-After": "30"})
    budget = step(seconds=10)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="openai unavailable at stage plan") as stopped:
        await reasoner.plan(QUESTION, 3, budget)
    assert time.monotonic() - started < 5
    assert "RateLimitError" in stopped.value.cause
    assert len(llm.calls_for("plan")) == 1
    assert budget.meter.spend["cost_micros"] == 0 and budget.meter.spend["llm_calls"] == 0


async def test_server_errors_are_retried_three_times_then_the_run_stops_naming_the_provider(reasoner, llm):
    llm.fail_when(lambda name, _: name == "plan", status=500, times=10)
    budget = step()
    with pytest.raises(ProviderUnavailable) as stopped:  # never a silent offline answer
        await reasoner.plan(QUESTION, 3, budget)
    assert (stopped.value.provider, stopped.value.stage) == ("openai", "plan")
    assert "500" in stopped.value.cause
    assert len(llm.calls_for("plan")) == 3
    assert budget.meter.spend["cost_micros"] == 0 and budget.meter.spend["llm_calls"] == 0


async def test_a_server_error_once_is_retried_and_billed_once(reasoner, llm):
    llm.fail_when(lambda name, _: name == "plan", status=503, times=1)
    budget = step()
    assert await reasoner.plan(QUESTION, 3, budget) == model_plan()
    assert len(llm.calls_for("plan")) == 2 and budget.errors == []
    assert budget.meter.spend["cost_micros"] == one_call_costs()


async def test_an_answer_slower_than_the_deadline_is_cut_off_and_counted_at_its_worst_case(reasoner, llm):
    llm.latency = 20.0
    budget = step(seconds=3)
    started = time.monotonic()
    queries = await reasoner.plan(QUESTION, 3, budget)
    assert time.monotonic() - started < 10  # cut at the deadline, not after the model's 20 s
    assert queries == await offline_plan()
    assert len(llm.calls_for("plan")) == 1  # no retry: the deadline left no room for one
    assert "TimeoutError" in budget.errors[0]["error"]
    user = "INPUT:\n" + json.dumps({"question": QUESTION, "count": 3}, ensure_ascii=False)
    worst = reasoner.worst_case(ModelStage.planner, PLANNER_PROMPT, user, PLAN_SCHEMA)
    # The provider may have billed a call we stopped waiting for: it stays counted, at most.
    assert budget.meter.spend["cost_micros"] == worst > one_call_costs()


async def test_no_call_is_made_with_less_than_a_second_before_the_deadline(reasoner, llm):
    budget = step(seconds=0.5)
    assert await reasoner.plan(QUESTION, 3, budget) == await offline_plan()
    assert llm.calls_for("plan") == []
    assert "BudgetExhausted" in budget.errors[0]["error"]


async def test_a_refusal_in_the_structured_output_is_billed_and_the_step_answers_offline(reasoner, llm):
    llm.handlers["plan"] = lambda payload, request: Refusal("I can't help with that.")
    budget = step()
    queries = await reasoner.plan(QUESTION, 3, budget)
    assert queries == await offline_plan()
    assert len(llm.calls_for("plan")) == 1  # a refusal is an answer: never retried
    assert "StructuredOutputError" in budget.errors[0]["error"]
    assert "can't help" in budget.errors[0]["error"]
    assert budget.meter.spend["cost_micros"] == one_call_costs()  # the provider billed it


@pytest.mark.parametrize(
    ("stage", "answer"),
    [("plan", {"queries": ["  "]}), ("brief", {"brief": " "})],
)
async def test_an_empty_answer_counts_as_a_failure_of_the_step(reasoner, llm, stage, answer):
    llm.handlers[stage] = lambda payload, request: answer
    budget = step()
    if stage == "plan":
        assert await reasoner.plan(QUESTION, 3, budget) == await offline_plan()
    else:
        brief = await reasoner.write(QUESTION, SOURCES, [], budget)
        assert brief == await OfflineReasoner().write(QUESTION, SOURCES, [])
    assert "StructuredOutputError" in budget.errors[0]["error"]


async def test_the_cast_stops_the_run_when_the_model_is_down(reasoner, llm):
    llm.fail_when(lambda name, _: name == "typed_result", status=500, times=10)
    with pytest.raises(ProviderUnavailable, match="at stage cast"):
        await reasoner.cast(QUESTION, SCHEMA, "Heat pumps reach a COP of 3 [1].", SOURCES, step())
    assert len(llm.calls_for("typed_result")) == 3


async def test_the_cast_stops_the_run_when_the_model_fails_during_a_repair(reasoner, llm):
    llm.handlers["typed_result"] = lambda payload, request: {"headline": 7}
    llm.fail_when(lambda name, payload: name == "typed_result" and "errors" in payload, status=500, times=10)
    with pytest.raises(ProviderUnavailable, match="at stage cast"):
        await reasoner.cast(QUESTION, SCHEMA, "Heat pumps reach a COP of 3 [1].", SOURCES, step())
    assert len(llm.calls_for("typed_result")) == 1 + 3  # the first answer, then a repair retried


async def test_a_long_page_is_sent_as_its_most_relevant_passages(reasoner, llm):
    filler = "Unrelated paragraph about gardening and tomatoes in spring. " * 200
    key = "Heat pumps in cold climates keep a COP above 2 at minus fifteen degrees."
    page = Page("https://energy.example/long", "Long page", filler + key + " " + filler)
    extraction = await reasoner.extract(QUESTION, "heat pump cold climate COP", page, 3, step())
    sent = llm.calls_for("extraction")[0]["page"]
    assert len(sent) <= EXCERPT_CHARS < len(page.text)
    assert key in sent
    assert extraction.findings  # the default fake quotes the page back


# --- the retry policy's rules, on the exceptions the clients raise ------------------------------


def _status_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://api.example/v1")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return httpx.HTTPStatusError(f"{status}", request=request, response=response)


@pytest.mark.parametrize(
    ("exc", "transient", "refused"),
    [
        (_status_error(429), True, True),
        (_status_error(503), True, True),
        (_status_error(400), False, True),
        (httpx.ReadTimeout("slow"), True, False),
        (httpx.ConnectError("down"), True, False),
        (TimeoutError(), True, False),
        (ConnectionResetError(), True, False),
        (StructuredOutputError("bad json"), False, False),
        (ValueError("bad"), False, False),
    ],
)
def test_what_is_worth_another_attempt_and_what_was_not_billed(exc, transient, refused):
    assert is_transient(exc) is transient
    assert was_refused(exc) is refused


def test_provider_errors_are_classified_by_their_client_names():
    import openai
    import tavily.errors

    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    assert is_transient(openai.APITimeoutError(request=request))
    assert is_transient(openai.APIConnectionError(request=request))
    assert not is_transient(openai.OpenAIError("no status, no known name"))
    assert is_transient(tavily.errors.UsageLimitExceededError("slow down"))
    assert not is_transient(tavily.errors.InvalidAPIKeyError("no"))
    assert was_refused(tavily.errors.InvalidAPIKeyError("no"))
    assert not was_refused(tavily.errors.TimeoutError(10))


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"Retry-After": "2"}, 2.0), ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None), ({}, None)],
)
def test_retry_after_is_read_in_its_seconds_form(headers, wait):
    assert retry_after_secs(_status_error(429, headers)) == wait
    assert retry_after_secs(TimeoutError()) is None


async def test_a_policy_retrying_by_exception_class_stops_at_max_attempts():
    attempts = []

    async def flaky():
        attempts.append(time.monotonic())
        raise ConnectionError("down")

    policy = RetryPolicy(
        initial_interval=0.01, backoff_factor=1.0, max_attempts=4, jitter=False, retry_on=ConnectionError
    )
    with pytest.raises(ConnectionError):
        await with_retries(flaky, policy=policy, deadline=time.time() + 60)
    assert len(attempts) == 4

    attempts.clear()
    other = RetryPolicy(initial_interval=0.01, max_attempts=4, jitter=False, retry_on=(KeyError, IndexError))
    with pytest.raises(ConnectionError):
        await with_retries(flaky, policy=other, deadline=time.time() + 60)
    assert len(attempts) == 1


async def test_a_retry_that_would_end_past_the_deadline_is_not_attempted():
    attempts = []

    async def overloaded():
        attempts.append(1)
        raise _status_error(503)

    policy = RetryPolicy(initial_interval=5.0, max_attempts=5, jitter=False, retry_on=is_transient)
    started = time.monotonic()
    with pytest.raises(httpx.HTTPStatusError):
        await with_retries(overloaded, policy=policy, deadline=time.time() + 2)
    assert attempts == [1] and time.monotonic() - started < 1

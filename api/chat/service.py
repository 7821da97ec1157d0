"""Chat completions as research jobs: the last user message is the question, the model names
the mode, `response_format` becomes the response schema; the answer is the cited brief (or the
typed JSON) with the job's id, charged like any API call."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from api.chat.schemas import (
    CHAT_MODES,
    MODEL_PREFIX,
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatUsage,
    InfrenceJobRef,
    ModelCard,
    ModelList,
)
from api.research.repository import JobRow
from api.research.schemas import ResearchRequest, ResearchResult
from api.research.service import SYNC_GRACE_SECS, JobService, plan_of, result_of
from core.errors import DomainError, InvalidRequest
from core.stream_slots import Slot, StreamSlots

STREAM_CHUNK_CHARS = 400
MODELS_CREATED = 1764460800  # 2025-11-30, when the models were first listed


class ResearchFailed(DomainError):
    status_code = 502
    code = "research_failed"


def list_models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_PREFIX + mode, created=MODELS_CREATED) for mode in CHAT_MODES])


def research_request_of(chat: ChatCompletionRequest) -> ResearchRequest:
    """Map a chat request onto a research request, refusing what has no meaning here."""
    mode = chat.model.removeprefix(MODEL_PREFIX)
    if not chat.model.startswith(MODEL_PREFIX) or mode not in CHAT_MODES:
        names = ", ".join(MODEL_PREFIX + m for m in CHAT_MODES)
        raise InvalidRequest(f"model: must be one of {names}", field="model")
    questions = [m.text().strip() for m in chat.messages if m.role == "user"]
    if not questions or not questions[-1]:
        raise InvalidRequest("messages: the last user message must have text", field="messages")
    schema = None
    if chat.response_format is not None and chat.response_format.type == "json_schema":
        schema = (chat.response_format.json_schema or {}).get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "response_format.json_schema.schema: a JSON Schema object is required",
                field="response_format.json_schema.schema",
            )
    try:
        return ResearchRequest(
            question=questions[-1][:4000],
            mode=mode,
            response_schema=schema,
            source_policy=chat.source_policy,
            output_language=chat.output_language,
            previous_job_id=chat.previous_job_id,
        )
    except ValueError as exc:
        raise InvalidRequest(f"messages: {exc}", field="messages") from None


def answer_text(result: ResearchResult, chat: ChatCompletionRequest) -> str:
    """The brief with its numbered sources, or the typed object when JSON was asked for."""
    if chat.response_format is not None and chat.response_format.type != "text":
        return json.dumps(result.typed, ensure_ascii=False)
    sources = "\n".join(
        f"[{n}] {source.title or source.domain} — {source.url}" for n, source in enumerate(result.sources, 1)
    )
    brief = result.brief or ""
    return f"{brief}\n\nSources:\n{sources}" if sources else brief


class ChatCompletions:
    """A chat call holds one of the user's stream slots until it answers (429 when none is
    free, before any job is created): it is a connection held open for minutes."""

    def __init__(self, jobs: JobService, slots: StreamSlots):
        self.jobs = jobs
        self.slots = slots

    async def complete(self, user_id: UUID, api_key_id: UUID, chat: ChatCompletionRequest) -> ChatCompletion:
        async with self.slots.hold(user_id):
            job = await self._wait(await self._start(user_id, api_key_id, chat))
        return completion_of(result_of(job), chat)

    async def open_stream(
        self, user_id: UUID, api_key_id: UUID, chat: ChatCompletionRequest
    ) -> AsyncIterator[str]:
        slot = await self.slots.acquire(user_id)
        try:
            job = await self._start(user_id, api_key_id, chat)
        except BaseException:
            await slot.release()
            raise
        return self._stream(job, chat, slot)

    async def _start(self, user_id: UUID, api_key_id: UUID, chat: ChatCompletionRequest) -> JobRow:
        return await self.jobs.submit(user_id, research_request_of(chat), origin="api", api_key_id=api_key_id)

    async def _stream(self, job: JobRow, chat: ChatCompletionRequest, slot: Slot) -> AsyncIterator[str]:
        """Progress as SSE comments while the job runs, then the answer in content chunks and
        `data: [DONE]`, as OpenAI's streaming clients expect. The slot goes back at the end."""
        try:
            async for chunk in self._chunks(job, chat, slot):
                yield chunk
        finally:
            await slot.release()

    async def _chunks(self, job: JobRow, chat: ChatCompletionRequest, slot: Slot) -> AsyncIterator[str]:
        created = int(time.time())
        yield _chunk(job, chat, created, {"role": "assistant", "content": ""})
        deadline = time.monotonic() + plan_of(job.request).budgets.max_wallclock_secs + SYNC_GRACE_SECS
        async with self.jobs.hub.subscribe(job.id, "0-0") as events:
            while not job.is_terminal and time.monotonic() < deadline:
                await slot.renew_if_due()
                event = await events.next(timeout=1.0)
                if event is not None and not event.is_terminal:
                    yield f": {event.type}\n\n"
                    continue
                job = await self.jobs.get(job.user_id, job.id)
        result = result_of(job)
        if result.status != "succeeded":
            error = {"message": result.error or f"research {result.status}", "code": ResearchFailed.code}
            yield f"data: {json.dumps({'error': error})}\n\n"
        else:
            text = answer_text(result, chat)
            for start in range(0, len(text), STREAM_CHUNK_CHARS):
                yield _chunk(job, chat, created, {"content": text[start : start + STREAM_CHUNK_CHARS]})
            yield _chunk(job, chat, created, {}, finish_reason="stop", citations=_citations(result))
        yield "data: [DONE]\n\n"

    async def _wait(self, job: JobRow) -> JobRow:
        budget = plan_of(job.request).budgets.max_wallclock_secs + SYNC_GRACE_SECS
        job = await self.jobs.wait_until_terminal(job, budget)
        if job.status != "succeeded":
            raise ResearchFailed(
                f"research job {job.id} ended {job.status}: {job.error or job.stop_reason or 'no answer'}",
                job_id=str(job.id),
            )
        return job


def _citations(result: ResearchResult) -> list[str]:
    return [source.url for source in result.sources]


def completion_of(result: ResearchResult, chat: ChatCompletionRequest) -> ChatCompletion:
    return ChatCompletion(
        id=f"chatcmpl-{result.id}",
        created=int(result.created_at.timestamp()),
        model=chat.model,
        choices=[ChatChoice(message=ChatChoiceMessage(content=answer_text(result, chat)))],
        usage=ChatUsage(completion_tokens=result.usage.tokens, total_tokens=result.usage.tokens),
        citations=_citations(result),
        infrence=InfrenceJobRef(
            job_id=str(result.id),
            status=result.status,
            credits_charged=result.credits_charged,
            stop_reason=result.stop_reason,
        ),
    )


def _chunk(
    job: JobRow, chat: ChatCompletionRequest, created: int, delta: dict[str, Any], **extra: Any
) -> str:
    finish = extra.pop("finish_reason", None)
    body = {
        "id": f"chatcmpl-{job.id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": chat.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "infrence": {"job_id": str(job.id)},
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

"""HTTP of the OpenAI-compatible surface: `GET /v1/models`, `POST /v1/chat/completions`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse

from api.chat.schemas import ChatCompletion, ChatCompletionRequest, ModelList
from api.chat.service import ChatCompletions, list_models
from api.research.routes import JobServiceDep
from auth.deps import ApiKeyCaller
from core.deps import SettingsDep
from core.errors import error_responses
from core.ratelimit import RateLimiterDep
from core.stream_slots import StreamSlotsDep

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


async def get_chat(jobs: JobServiceDep, slots: StreamSlotsDep) -> ChatCompletions:
    return ChatCompletions(jobs, slots)


ChatDep = Annotated[ChatCompletions, Depends(get_chat)]


@router.get("/models", response_model=ModelList, responses=error_responses(401), operation_id="list_models")
async def models(caller: ApiKeyCaller) -> ModelList:
    return list_models()


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses=error_responses(400, 401, 402, 429, 502),
    operation_id="chat_completions",
    summary="Research a question through an OpenAI-compatible chat call",
)
async def chat_completions(
    body: ChatCompletionRequest,
    caller: ApiKeyCaller,
    chat: ChatDep,
    response: Response,
    limits: RateLimiterDep,
    settings: SettingsDep,
):
    limit = await limits.enforce(
        f"research:key:{caller.api_key_id}", settings.research_creates_per_minute, 60
    )
    if body.stream:
        answer = StreamingResponse(
            await chat.open_stream(caller.user.id, caller.api_key_id, body),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        limit.apply(answer)
        return answer
    limit.apply(response)
    return await chat.complete(caller.user.id, caller.api_key_id, body)

"""The subset of OpenAI's chat-completions shapes we accept and return (extra fields ignored on
the way in, so the official clients' defaults pass)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.research.schemas import JobStatus, SourcePolicy
from graph.budget import StopReason

MODEL_PREFIX = "infrence-"
CHAT_MODES = ("lite", "standard", "pro")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, whether sent as a string or as content parts."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(max_length=64, description="`infrence-lite`, `infrence-standard` or `infrence-pro`.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    stream: bool = False
    response_format: ResponseFormat | None = None
    # Research controls, as on POST /v1/research (OpenAI clients send them with `extra_body`).
    source_policy: SourcePolicy | None = None
    output_language: str | None = Field(
        None, max_length=35, description="BCP 47 tag the answer is written in."
    )
    previous_job_id: UUID | None = Field(
        None,
        description="Follow up an earlier finished research job (`infrence.job_id` of an earlier answer).",
    )


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop", "length"] = "stop"


class ChatUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class InfrenceJobRef(BaseModel):
    job_id: str
    status: JobStatus
    credits_charged: int
    stop_reason: StopReason | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    citations: list[str] = Field(default_factory=list, description="Source URLs, in [n] order.")
    infrence: InfrenceJobRef


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "infrence"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]

"""Request and response bodies of `/v1/collections*` and `/api/collections*`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class CollectionDto(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    documents: int
    created_at: datetime


class DocumentDto(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    collection_id: UUID
    filename: str
    content_type: str
    url: str | None = None
    published_date: date | None = None
    status: Literal["processing", "ready", "failed"]
    error: str | None = Field(None, description="Why the file could not be read, when `failed`.")
    size_bytes: int
    source_id: str = Field(description="How research cites it: `collection://<collection>/<document>`.")
    created_at: datetime
    ready_at: datetime | None = None


class DocumentWithText(DocumentDto):
    text: str | None = Field(None, description="The extracted text quotes are exact slices of.")

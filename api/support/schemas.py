"""Pydantic models of the support operation in the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

TICKET_CATEGORIES = ("general", "billing", "bug", "account", "feature")
TICKET_STATUSES = ("open", "closed")
MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 10_000


def not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def known_category(value: str) -> str:
    if value not in TICKET_CATEGORIES:
        raise ValueError(f"must be one of {', '.join(TICKET_CATEGORIES)}")
    return value


class TicketBody(BaseModel):
    category: Annotated[str, AfterValidator(known_category)]
    subject: Annotated[str, Field(max_length=MAX_SUBJECT_CHARS), AfterValidator(not_blank)]
    body: Annotated[str, Field(max_length=MAX_BODY_CHARS), AfterValidator(not_blank)]


class TicketReceipt(BaseModel):
    """What the user gets back: enough to quote the ticket in a follow-up."""

    id: UUID
    status: str
    created_at: datetime


class MyTicket(BaseModel):
    """One of the caller's tickets, as the dashboard lists them."""

    id: UUID
    category: str
    subject: str
    status: str
    created_at: datetime
    reply_count: int

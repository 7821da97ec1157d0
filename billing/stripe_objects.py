"""Reading the Stripe objects inside webhook events: plain JSON, fields that moved between API
versions, ids that may be expanded objects. Nothing here trusts a field to be present."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID


def dig(obj: Any, *path: str | int) -> Any:
    """`obj[a][b]...`, or None as soon as a step is missing."""
    for step in path:
        if isinstance(obj, dict) and isinstance(step, str):
            obj = obj.get(step)
        elif isinstance(obj, list) and isinstance(step, int) and -len(obj) <= step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def object_id(value: Any) -> str | None:
    """An id field that Stripe may send as the id or as the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def uuid_or_none(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) and value > 0 else None

"""Server-sent events: parse the stream, and know which events end a job."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TERMINAL_EVENTS = frozenset({"job.succeeded", "job.failed", "job.canceled"})


@dataclass(frozen=True)
class Event:
    """One SSE event: `id` (the stream id, for `Last-Event-ID`), `type`, `data` (decoded JSON).

    Unknown types are passed through: new ones may appear at any time."""

    id: str | None
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS


class SSEParser:
    """Feed lines, get events (comments and heartbeats are skipped)."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._type = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            self._id = value
        elif name == "event":
            self._type = value
        elif name == "data":
            self._data.append(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._type = "message"
            return None
        raw = "\n".join(self._data)
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"raw": raw}
        event = Event(self._id, self._type, data if isinstance(data, dict) else {"value": data})
        self._type, self._data = "message", []
        return event


def parse(lines: Iterable[str]) -> list[Event]:
    parser = SSEParser()
    return [e for e in map(parser.feed, lines) if e is not None]

"""Per-job event streams in Redis (capped, expiring) and their SSE rendering.

The worker appends every graph event; SSE readers follow the stream by id, so a reconnecting
client resumes with `Last-Event-ID`. PostgreSQL stays the source of truth: when a stream has
expired or lost events, the terminal event is rebuilt from the job row.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

log = logging.getLogger(__name__)

STREAM_MAXLEN = 5000
LIVE_TTL_SECS = 2 * 24 * 3600      # a running job's stream outlives any wallclock cap
TERMINAL_TTL_SECS = 24 * 3600      # replayable for a day after completion, then from the DB
TERMINAL_TYPES = ("job.succeeded", "job.failed", "job.canceled")


@dataclass(frozen=True)
class JobEvent:
    id: str
    type: str
    data: dict[str, Any]

    def as_sse(self) -> str:
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data, default=str)}\n\n"

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_TYPES


def stream_key(job_id: UUID | str) -> str:
    return f"job:{job_id}:events"


class JobEvents:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def append(self, job_id: UUID | str, event_type: str, data: dict[str, Any]) -> str | None:
        """Append one event; a Redis outage is logged, never fatal to the job."""
        key = stream_key(job_id)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(key, {"type": event_type, "data": json.dumps(data, default=str)},
                          maxlen=STREAM_MAXLEN, approximate=True)
                pipe.expire(key, TERMINAL_TTL_SECS if event_type in TERMINAL_TYPES else LIVE_TTL_SECS)
                event_id, _ = await pipe.execute()
            return event_id
        except Exception as exc:  # redis down: the DB still has the truth
            log.warning("event %s for job %s not streamed: %s", event_type, job_id, type(exc).__name__)
            return None

    async def read(self, job_id: UUID | str, after: str, block_ms: int | None) -> list[JobEvent]:
        """Events after stream id `after`, waiting up to block_ms for the first one (None: no wait)."""
        reply = await self.redis.xread({stream_key(job_id): after}, count=500, block=block_ms or None)
        events: list[JobEvent] = []
        for _key, entries in reply or []:
            for event_id, fields in entries:
                events.append(JobEvent(event_id, fields.get("type", "unknown"),
                                       json.loads(fields.get("data") or "{}")))
        return events

    async def has_terminal(self, job_id: UUID | str) -> bool:
        last = await self.redis.xrevrange(stream_key(job_id), count=1)
        return bool(last) and last[0][1].get("type") in TERMINAL_TYPES

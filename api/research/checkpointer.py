"""The worker's LangGraph checkpointer: the library's PostgreSQL saver, writing each checkpoint and
each task's writes in one statement.

A lite job writes about ten checkpoints and a dozen sets of task writes. The library's
`AsyncPostgresSaver` (langgraph-checkpoint-postgres 3.2) serialises each of them in a worker thread
(`asyncio.to_thread`) and sends its rows through a psycopg pipeline; both cost the worker more CPU
than the write itself (a thread hop and a pipeline per call). Here the values are serialised
inline — they are small, and the thread hop is what costs — and sent as one `INSERT`, one
statement and one round trip per call.

Overridden upstream methods: `aput` and `aput_writes`, nothing else. The rows written are the
library's own (same tables, columns, serializer and conflict rules), so reading (`aget_state`,
resume), `langgraph dev`/Studio, `adelete_thread` and the retention prune work on them unchanged.
Re-check both methods against the library's when upgrading it: a change to its table layout or
to what `aput` inlines would have to be mirrored here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.types.json import Jsonb

PUT_CHECKPOINT_SQL = """
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
"""
# Special writes (errors, interrupts...) replace an earlier one at their index; others never do.
UPSERT_WRITES = "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob"


def _values(rows: int, row: str) -> str:
    return ", ".join([row] * rows)


@functools.cache
def put_checkpoint_sql(blobs: int) -> str:
    """The checkpoint and its channels' new blobs in one statement (so in one transaction, as the
    library's pipeline is). Column lists and conflict rules are the library's. Rows go in as VALUES,
    not arrays (psycopg dumps scalars in C, lists in Python), and the values every row shares go in
    once: psycopg caches a query's parsing only up to 50 parameters."""
    if not blobs:
        return PUT_CHECKPOINT_SQL
    return f"""
WITH blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT %s, %s, b.channel, b.version, b.type, b.blob
    FROM (VALUES {_values(blobs, "(%s::text, %s::text, %s::text, %s::bytea)")}) AS b(channel, version, type, blob)
    ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
)
{PUT_CHECKPOINT_SQL}"""


@functools.cache
def put_writes_sql(writes: int, *, special: bool) -> str:
    return f"""
INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
SELECT %s, %s, %s, %s, %s, w.idx, w.channel, w.type, w.blob
FROM (VALUES {_values(writes, "(%s::integer, %s::text, %s::text, %s::bytea)")}) AS w(idx, channel, type, blob)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) {UPSERT_WRITES if special else "DO NOTHING"}
"""


class JobCheckpointer(AsyncPostgresSaver):
    """`AsyncPostgresSaver` with `aput` and `aput_writes` as single inline statements (see the
    module's docstring for why, and what to re-check on a library upgrade)."""

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        checkpoint_ns = configurable["checkpoint_ns"]
        # As the library does: primitive values stay inline in the checkpoint's JSON; the others
        # (and delta snapshots, marked `True` inline) go to the blobs table, one row per new version.
        inline = dict(checkpoint["channel_values"])
        blob_values: dict[str, Any] = {}
        for channel, value in checkpoint["channel_values"].items():
            if isinstance(value, _DeltaSnapshot):
                blob_values[channel] = inline.pop(channel)
                inline[channel] = True
            elif value is not None and not isinstance(value, (str, int, float, bool)):
                blob_values[channel] = inline.pop(channel)
        blob_rows = self._dump_blobs(
            thread_id,
            checkpoint_ns,
            blob_values,
            {channel: version for channel, version in new_versions.items() if channel in blob_values},
        )
        params = [
            *((thread_id, checkpoint_ns) if blob_rows else ()),
            *(value for row in blob_rows for value in row[2:]),
            thread_id,
            checkpoint_ns,
            checkpoint["id"],
            configurable.get("checkpoint_id"),
            Jsonb({**checkpoint, "channel_values": inline}),
            Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
        ]
        async with self._cursor() as cur:
            await cur.execute(put_checkpoint_sql(len(blob_rows)), params)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        configurable = config["configurable"]
        special = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        rows = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        if special:
            # One statement cannot upsert a row twice: the last write at an index wins, as the
            # library's one-statement-per-row upsert leaves it.
            rows = list({row[5]: row for row in rows}.values())
        if not rows:
            return
        async with self._cursor() as cur:
            await cur.execute(
                put_writes_sql(len(rows), special=special),
                [*rows[0][:5], *(value for row in rows for value in row[5:])],
            )

"""The worker's LangGraph checkpointer: the library's PostgreSQL saver, writing each checkpoint and
each task's writes in one statement.

A lite job writes about ten checkpoints and a dozen sets of task writes. The library's
`AsyncPostgresSaver` (langgraph-checkpoint-postgres 3.2) serialises each of them in a worker thread
(`asyncio.to_thread`) and sends its rows through a psycopg pipeline; both cost the worker more CPU
than the write itself (a thread hop and a pipeline per call). Here the values are serialised
inline — they are small, and the thread hop is what costs — and sent as one `INSERT ... SELECT
FROM unnest(...)`, one statement and one round trip per call.

Overridden upstream methods: `aput` and `aput_writes`, nothing else. The rows written are the
library's own (same tables, columns, serializer and conflict rules), so reading (`aget_state`,
resume), `langgraph dev`/Studio, `adelete_thread` and the retention prune work on them unchanged.
Re-check both methods against the library's when upgrading it: a change to its table layout or
to what `aput` inlines would have to be mirrored here.
"""

from __future__ import annotations

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

# The checkpoint and its channels' new blobs, in one statement (so in one transaction, as the
# library's pipeline is). Column lists and conflict rules are the library's.
PUT_CHECKPOINT_SQL = """
WITH blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT %(thread_id)s, %(checkpoint_ns)s, channel, version, type, blob
    FROM unnest(%(channels)s::text[], %(versions)s::text[], %(types)s::text[], %(blobs)s::bytea[])
        AS b(channel, version, type, blob)
    ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
)
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
VALUES (%(thread_id)s, %(checkpoint_ns)s, %(checkpoint_id)s, %(parent_id)s, %(checkpoint)s, %(metadata)s)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
"""
_WRITES_SQL = """
INSERT INTO checkpoint_writes
    (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
SELECT %(thread_id)s, %(checkpoint_ns)s, %(checkpoint_id)s, %(task_id)s, %(task_path)s,
       idx, channel, type, blob
FROM unnest(%(idxs)s::integer[], %(channels)s::text[], %(types)s::text[], %(blobs)s::bytea[])
    AS w(idx, channel, type, blob)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
"""
# Special writes (errors, interrupts...) replace an earlier one at their index; others never do.
UPSERT_WRITES_SQL = (
    _WRITES_SQL + "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob"
)
INSERT_WRITES_SQL = _WRITES_SQL + "DO NOTHING"


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
        params = {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint["id"],
            "parent_id": configurable.get("checkpoint_id"),
            "checkpoint": Jsonb({**checkpoint, "channel_values": inline}),
            "metadata": Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
            "channels": [row[2] for row in blob_rows],
            "versions": [row[3] for row in blob_rows],
            "types": [row[4] for row in blob_rows],
            "blobs": [row[5] for row in blob_rows],
        }
        async with self._cursor() as cur:
            await cur.execute(PUT_CHECKPOINT_SQL, params)
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
        params = {
            "thread_id": configurable["thread_id"],
            "checkpoint_ns": configurable["checkpoint_ns"],
            "checkpoint_id": configurable["checkpoint_id"],
            "task_id": task_id,
            "task_path": task_path,
            "idxs": [row[5] for row in rows],
            "channels": [row[6] for row in rows],
            "types": [row[7] for row in rows],
            "blobs": [row[8] for row in rows],
        }
        async with self._cursor() as cur:
            await cur.execute(UPSERT_WRITES_SQL if special else INSERT_WRITES_SQL, params)

"""A process that charges a job and then dies while its follow-ups are on their way.

python -m tests.outbox.crash_process   (env: the app's settings, USER_ID)

It submits a lite job for USER_ID (the reservation enqueues an auto top-up), settles it as
succeeded (the charge enqueues an overage report), then runs a relay whose handlers for those two
kinds print `sending <kind>` and hang, as if Stripe never answered. The test SIGKILLs it there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from uuid import UUID

from redis.asyncio import Redis

from api.research.schemas import ResearchRequest
from api.research.service import JobOutcome, JobService
from billing.subscriptions import OVERAGE_TASK
from billing.topup import AUTO_TOPUP_TASK
from core.db import Database
from core.outbox import OutboxRegistry, Relay
from core.settings import load_settings


def hanging(kind: str):
    async def handler(payload: dict) -> None:
        print(f"sending {kind}", flush=True)
        await asyncio.Event().wait()

    return handler


async def main() -> None:
    settings = load_settings()
    db = Database(settings.database_url, min_size=1, max_size=4)
    await db.open()
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    jobs = JobService(db, redis, settings)
    request = ResearchRequest(question="How do heat pumps work?", mode="lite", run_async=True)
    job = await jobs.submit(UUID(os.environ["USER_ID"]), request, origin="api")
    finished = await jobs.settlement.settle(job, JobOutcome(status="succeeded", stop_reason="complete"))
    print(f"charged {job.id} {finished.credits_charged}", flush=True)
    registry = OutboxRegistry()
    for kind in (OVERAGE_TASK, AUTO_TOPUP_TASK):
        registry.register(kind, hanging(kind))
    await Relay(db, registry, settings).run(asyncio.Event())


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

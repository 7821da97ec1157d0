"""Which background services a process runs beside (or instead of) the HTTP API."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from api.app import BackgroundService
from core.db import Database
from core.settings import Settings
from core.storage import redis_client, resolve_storage


def background_services_for(
    settings: Settings, workers: int, *, processes: bool = False
) -> list[BackgroundService]:
    """The webhook sender and N research workers: supervised child processes (`infrence serve`,
    so graph work never shares the API's event loop) or in-process (embedding, tests)."""
    from api.research.worker import worker_service

    if not processes:
        return [worker_service(settings, workers)]
    from api.supervisor import worker_processes_service

    return [worker_service(settings, 0), worker_processes_service(settings, workers)]


async def run_workers(settings: Settings, concurrency: int, heartbeat_file: Path | None = None) -> None:
    """`infrence worker`: research workers, the webhook sender and the outbox relay until
    SIGINT/SIGTERM, then drain. Under `serve`'s supervisor it also beats `heartbeat_file` so a
    hung loop can be killed."""
    from api.outbox import outbox_relay
    from api.research.webhooks import WebhookSender
    from api.research.worker import ResearchWorker
    from api.supervisor import beat
    from core.mail import Mailer
    from core.outbox import run_relay_until

    storage = resolve_storage(settings)
    db = Database(storage.database_url, min_size=1, max_size=max(4, concurrency * 3))
    await db.open()
    redis = redis_client(storage.redis_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        worker = ResearchWorker(db, redis, settings, concurrency=concurrency)
        sender = WebhookSender(db, settings)
        relay = outbox_relay(db, settings, Mailer(db, settings))
        beating = [beat(heartbeat_file, stop)] if heartbeat_file is not None else []
        await asyncio.gather(worker.run(stop), sender.run(stop), run_relay_until(relay, stop), *beating)
    finally:
        await redis.aclose()
        await db.close()

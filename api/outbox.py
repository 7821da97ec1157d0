"""The outbox relay as a background service. The composition root decides who handles which
kind of task: core's mailer and billing register theirs on one registry."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from api.collections.service import CollectionService
from billing.tasks import register_billing_tasks
from core.db import Database
from core.mail import Mailer
from core.outbox import OutboxRegistry, Relay, run_relay_until
from core.settings import Settings


def outbox_relay(db: Database, settings: Settings, mailer: Mailer) -> Relay:
    registry = OutboxRegistry()
    mailer.register(registry)
    register_billing_tasks(registry, db, settings, mailer)
    CollectionService(db, settings).register(registry)
    return Relay(db, registry, settings)


async def start_outbox_relay(app: FastAPI):
    """App-scoped service: `app.state.outbox_relay`, running until the app stops."""
    state = app.state
    relay = state.outbox_relay = outbox_relay(state.db, state.settings, state.mailer)
    stop = asyncio.Event()
    running = asyncio.create_task(run_relay_until(relay, stop), name="outbox-relay")

    async def stop_relay() -> None:
        stop.set()
        await running

    return stop_relay

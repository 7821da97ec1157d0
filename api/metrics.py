"""Prometheus metrics at `GET /metrics` (admins only), and unauthenticated on a separate
listener when `INFRENCE_METRICS_ADDR` is set (bind it to an interface only Prometheus reaches).

Counters and the latency histogram live in the process's default registry and are updated
where things happen (the HTTP middleware in `api/middleware.py`, the worker's event sink, the
webhook sender). Levels that the database already knows (jobs queued or running, queue age) are
read at scrape time with queries served by partial indexes, so a scrape stays cheap however
large the tables grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.routing import Route

from api.research.repository import JobRepository
from auth.deps import AdminUser

HTTP_LATENCY = Histogram(
    "infrence_http_request_duration_seconds",
    "HTTP request latency by route template, method and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PROVIDER_CALLS = Counter(
    "infrence_provider_calls_total", "Search and page-read calls made by research jobs.", ["kind", "provider"]
)
PROVIDER_ERRORS = Counter(
    "infrence_provider_errors_total", "Research branches that failed, by the stage that failed.", ["stage"]
)
PROVIDER_SPEND = Counter(
    "infrence_provider_spend_usd_micros_total", "Provider spend of settled jobs (USD micros).", ["mode"]
)
JOBS_FINISHED = Counter(
    "infrence_research_jobs_finished_total",
    "Research jobs settled by this process, by final status.",
    ["status", "mode"],
)
WEBHOOK_DELIVERIES = Counter(
    "infrence_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)

WEBHOOKS_PENDING_SQL = "SELECT count(*) AS webhooks_pending FROM webhook_deliveries WHERE status = 'pending'"


def record_job_event(event_type: str, data: dict[str, Any]) -> None:
    """Count provider work from the graph's own events (the event types of docs/design.md, "Events")."""
    if event_type == "search":
        PROVIDER_CALLS.labels(kind="search", provider=str(data.get("provider") or "unknown")).inc()
    elif event_type == "source":
        PROVIDER_CALLS.labels(kind="page", provider="reader").inc()
    elif event_type == "branch.failed":
        PROVIDER_ERRORS.labels(stage=str(data.get("stage") or "unknown")).inc()


def record_job_settled(*, status: str, mode: str, cost_usd_micros: int) -> None:
    JOBS_FINISHED.labels(status=status, mode=mode).inc()
    if cost_usd_micros > 0:
        PROVIDER_SPEND.labels(mode=mode).inc(cost_usd_micros)


def record_webhook_delivery(delivered: bool) -> None:
    WEBHOOK_DELIVERIES.labels(outcome="delivered" if delivered else "failed_attempt").inc()


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, _: AdminUser) -> Response:
    """Queue depths and traffic are operational secrets: admins only on the public listener."""
    return await scrape(request.app.state)


async def scrape(state: State) -> Response:
    """The process's counters plus the live levels read now."""
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Levels(await _live_levels(state)))
    body = generate_latest(REGISTRY) + generate_latest(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _SignalFreeServer(uvicorn.Server):
    """A second uvicorn server inside the API's process: the API's own server handles signals."""

    def capture_signals(self):
        return contextlib.nullcontext()


async def start_metrics_listener(app: Starlette) -> Callable[[], Awaitable[None]]:
    """Serve only `/metrics`, without credentials, on `INFRENCE_METRICS_ADDR` (if set)."""
    address = app.state.settings.metrics_addr
    if not address:
        return _nothing_to_stop
    host, port = address.rsplit(":", 1)
    host = host.strip("[]")
    # Bound here, before serving, so a taken port fails the startup with a clear OSError.
    sock = socket.create_server((host, int(port)), family=socket.AF_INET6 if ":" in host else socket.AF_INET)

    async def unauthenticated(_: Request) -> Response:
        return await scrape(app.state)

    listener = Starlette(routes=[Route("/metrics", unauthenticated)])
    config = uvicorn.Config(listener, lifespan="off", access_log=False, log_config=None)
    server = _SignalFreeServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        server.should_exit = True
        await serving

    return stop


async def _nothing_to_stop() -> None:
    return None


async def _live_levels(state: State) -> dict[str, float]:
    levels: dict[str, float] = {}
    try:
        async with state.db.connection() as conn:
            levels.update(await JobRepository().live_levels(conn))
            row = await (await conn.execute(WEBHOOKS_PENDING_SQL)).fetchone()
        levels["webhooks_pending"] = float(row["webhooks_pending"])
    except Exception:  # a scrape during an outage still serves the counters
        pass
    worker = getattr(state, "research_worker", None)
    if worker is not None:
        levels["busy_slots"] = float(worker.busy_slots)
        levels["slots"] = float(worker.concurrency)
    return levels


class _Levels:
    """Gauges built from one scrape's readings."""

    def __init__(self, levels: dict[str, float]):
        self.levels = levels

    def collect(self):
        levels = self.levels
        if "queued" in levels:
            jobs = GaugeMetricFamily(
                "infrence_research_jobs", "Research jobs not yet finished, by status.", labels=["status"]
            )
            for status in ("queued", "running", "awaiting_approval"):
                jobs.add_metric([status], levels[status])
            yield jobs
            yield GaugeMetricFamily(
                "infrence_research_queue_depth", "Jobs waiting for a worker.", value=levels["queued"]
            )
            yield GaugeMetricFamily(
                "infrence_research_queue_oldest_seconds",
                "Age of the oldest queued job.",
                value=levels["oldest_queued_secs"],
            )
            yield GaugeMetricFamily(
                "infrence_webhook_deliveries_pending",
                "Webhook deliveries not yet done.",
                value=levels["webhooks_pending"],
            )
        if "busy_slots" in levels:
            yield GaugeMetricFamily(
                "infrence_worker_busy_slots",
                "Jobs this process's worker is running.",
                value=levels["busy_slots"],
            )
            yield GaugeMetricFamily(
                "infrence_worker_slots", "Jobs this process's worker may run at once.", value=levels["slots"]
            )

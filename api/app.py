"""The FastAPI application factory and its lifespan (one DB pool, one Redis client per process)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from api import health
from api.collections.routes import UPLOAD_PATH
from api.middleware import HttpEdge
from api.spa import mount_spa
from core.db import Database
from core.errors import install_error_handlers, refuse_nul_characters
from core.settings import Settings, load_settings
from core.storage import redis_client, resolve_storage

log = logging.getLogger(__name__)

OPENAPI_TAGS = [
    {"name": "auth", "description": "Email + password authentication and session management."},
    {"name": "api-keys", "description": "Create, list, revoke, and reset Infrence API keys."},
    {"name": "credits", "description": "Read-only credit balance for dashboard and public API."},
    {"name": "dashboard", "description": "Usage charts and recent-jobs sidebar for the SPA."},
    {"name": "logs", "description": "Activity log rows for the dashboard /logs page."},
    {"name": "settings", "description": "Profile, password, and marketing preferences."},
    {"name": "support", "description": "Support and billing-issue ticket submission."},
    {"name": "billing", "description": "Stripe Checkout, Customer Portal, packs, and payment history."},
    {"name": "research", "description": "Public deep-research API (`/v1/research`)."},
    {
        "name": "playground",
        "description": "Dashboard playground — JWT-authenticated proxy for research runs.",
    },
    {
        "name": "corpus",
        "description": "The local documents behind `corpus://` citations, as stored and quoted.",
    },
    {"name": "admin", "description": "Admin operator surface — gated by `users.is_admin`."},
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "collections", "description": "Your own documents, searched by research jobs."},
    {
        "name": "openai-compatible",
        "description": "Research through OpenAI-style `chat.completions` and `models` calls.",
    },
]

# Background services started with the app (in-process workers, webhook sender, ...). Each is
# an async callable taking the app and returning an async "stop" callable.
BackgroundService = Callable[[FastAPI], Awaitable[Callable[[], Awaitable[None]]]]


def _app_services() -> list[BackgroundService]:
    """Services every app instance needs whatever the process runs (started first, stopped last)."""
    from api.metrics import start_metrics_listener
    from api.outbox import start_outbox_relay
    from core.mail import start_mailer

    return [
        _seal_clear_secrets,
        start_mailer,
        start_outbox_relay,
        _start_period_sweeps,
        start_metrics_listener,
    ]


async def _seal_clear_secrets(app: FastAPI):
    """Webhook secrets stored in clear (before encryption at rest) are sealed as the app starts."""
    from auth.webhook_secrets import WebhookSecrets

    await WebhookSecrets(app.state.db, app.state.settings).reseal(clear_only=True)

    async def nothing_to_stop() -> None:
        pass

    return nothing_to_stop


async def _start_period_sweeps(app: FastAPI):
    """Plan credits expire at their period's end on a timer (every API process sweeps; the
    ledger makes concurrent sweeps harmless). Wall time: `app.state.clock` is the rate limits'."""
    from billing.subscriptions import Subscriptions, run_period_sweeps

    stop = asyncio.Event()
    sweeps = asyncio.create_task(
        run_period_sweeps(Subscriptions(app.state.db, app.state.settings), stop, time.time),
        name="plan-period-sweeps",
    )

    async def stop_sweeps() -> None:
        stop.set()
        await sweeps

    return stop_sweeps


def _routers():
    """Every domain's router, in contract order. Imported lazily so `openapi` stays cheap."""
    from api.admin.routes import router as admin_router
    from api.chat.routes import router as chat_router
    from api.collections.routes import dashboard as collections_dashboard_router
    from api.collections.routes import router as collections_router
    from api.dashboard.routes import router as dashboard_router
    from api.docs import router as docs_router
    from api.metrics import router as metrics_router
    from api.research.routes import dashboard_corpus as corpus_router
    from api.research.routes import playground as playground_router
    from api.research.routes import router as research_router
    from api.support.routes import router as support_router
    from auth.routes import routers as auth_routers
    from billing.credit_routes import router as ledger_router
    from billing.routes import admin_router as stripe_events_router
    from billing.routes import router as billing_router

    return [
        docs_router,
        health.router,
        *auth_routers,
        ledger_router,
        research_router,
        playground_router,
        corpus_router,
        dashboard_router,
        billing_router,
        stripe_events_router,
        support_router,
        admin_router,
        chat_router,
        collections_router,
        collections_dashboard_router,
        metrics_router,
    ]


def _match_order(routers: list) -> list:
    """The routers in the order requests try them: the public API's hot routers (credits,
    research jobs) first. Starlette tests routes one by one, a regular expression each, so a
    `/v1` read behind the dashboard's and the admin's routes paid ~30 tests before its own. No
    two routers share a path (only the dashboard's catch-all, mounted last, overlaps any), so
    the order changes no answer; the OpenAPI document keeps the contract order."""
    from api.research.routes import router as research_router
    from billing.credit_routes import router as ledger_router

    hot = [ledger_router, research_router]
    return hot + [router for router in routers if router not in hot]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    storage = resolve_storage(settings)
    db = Database(
        storage.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        prepare_threshold=settings.db_prepare_threshold,
    )
    await db.open()
    redis = redis_client(storage.redis_url, health_check_interval=30)
    app.state.db, app.state.redis = db, redis
    stops = [await start(app) for start in app.state.background_services]
    try:
        yield
    finally:
        for stop in reversed(stops):
            await stop()
        await redis.aclose()
        await db.close()


def create_app(
    settings: Settings | None = None, background_services: list[BackgroundService] | None = None
) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title="Infrence API",
        version="0.1.0",
        description="Deep Research API + dashboard for Infrence.",
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        docs_url=None,  # api/docs.py serves /docs and /redoc from the app itself (no CDN)
        redoc_url=None,
        dependencies=[Depends(refuse_nul_characters)],
        # No OpenTelemetry export here (metrics are Prometheus's, at /metrics): left on, FastAPI
        # looks up three global OpenTelemetry providers on every request (~3.5 us each time).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.clock = time.time  # rate-limit windows; tests pin it
    app.state.background_services = [*_app_services(), *(background_services or [])]
    install_error_handlers(app)
    for router in _match_order(_routers()):
        app.include_router(router)
    from api.mcp.server import mount_mcp  # the SDK loads only when an app is built

    mount_mcp(app)
    mount_spa(app)  # last: the dashboard answers only paths no router claims
    app.add_middleware(
        HttpEdge,
        max_bytes=settings.max_body_bytes,
        upload_path=UPLOAD_PATH,
        upload_bytes=settings.collection_max_file_bytes + 64 * 1024,  # the file plus its form
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, with validation errors declared as the 400s they are (never 422)."""
    if app.openapi_schema:
        return app.openapi_schema
    from api.research.schemas import event_schemas

    contract = {id(router): position for position, router in enumerate(_routers())}
    routes = sorted(
        app.routes, key=lambda route: contract.get(id(getattr(route, "original_router", None)), -1)
    )
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=routes,
        tags=app.openapi_tags,
    )
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {
                    "description": "Bad request",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
    security_schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    security_schemes.setdefault("bearer_jwt", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    security_schemes.setdefault(
        "bearer_api_key", {"type": "http", "scheme": "bearer", "bearerFormat": "API Key"}
    )
    components = schema["components"].setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for name, definition in event_schemas().items():
        components.setdefault(name, definition)
    components.setdefault(
        "ErrorBody",
        {
            "type": "object",
            "required": ["detail", "code"],
            "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
        },
    )
    app.openapi_schema = schema
    return schema

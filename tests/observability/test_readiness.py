"""Liveness says the process is up; readiness says it can serve (database, Redis, schema)."""

from __future__ import annotations

import httpx
import psycopg


async def test_ready_when_database_redis_and_schema_are(client):
    live, ready = await client.get("/livez"), await client.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok", "migrations": "ok"}


async def test_not_ready_while_a_migration_is_pending(client, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        name = conn.execute("SELECT name FROM schema_migrations ORDER BY name DESC LIMIT 1").fetchone()[0]
        conn.execute("DELETE FROM schema_migrations WHERE name = %s", (name,))
        try:
            ready = await client.get("/readyz")
        finally:
            conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
    assert ready.status_code == 503
    assert ready.json()["migrations"] == f"pending: {name}" and ready.json()["database"] == "ok"


async def test_not_ready_without_redis_yet_still_alive(settings, clean_storage):
    from api.app import create_app
    from tests.conftest import free_port

    cut_off = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    async with cut_off.router.lifespan_context(cut_off):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cut_off), base_url="http://t") as http:
            ready, live = await http.get("/readyz"), await http.get("/livez")
    assert ready.status_code == 503 and ready.json()["redis"] == "unreachable"
    assert live.status_code == 200

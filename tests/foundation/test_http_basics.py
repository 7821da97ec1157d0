"""Errors are JSON with a code, validation names the field, big bodies get 413, health tells the truth."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.app import create_app


class EchoBody(BaseModel):
    name: str = Field(min_length=1)
    count: int


def _app_with_echo(settings):
    application = create_app(settings)
    router = APIRouter()

    @router.post("/_echo")
    async def echo(body: EchoBody) -> EchoBody:
        return body

    application.include_router(router)
    return application


async def _client_for(application):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t")


async def test_health_reports_database_and_redis(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_health_is_503_when_redis_is_unreachable(settings, clean_storage, tmp_path):
    broken = settings.model_copy(update={"redis_url": f"unix://{tmp_path}/nowhere.sock"})
    application = create_app(broken)
    async with application.router.lifespan_context(application), await _client_for(application) as http:
        response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"] == "unreachable"
    assert response.json()["database"] == "ok"


async def test_validation_errors_are_400_naming_the_fields(settings, clean_storage):
    application = _app_with_echo(settings)
    async with application.router.lifespan_context(application), await _client_for(application) as http:
        response = await http.post("/_echo", json={"name": "", "count": "many"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert {e["field"] for e in body["errors"]} == {"name", "count"}
    assert "count" in body["detail"] and "name" in body["detail"]


async def test_malformed_json_is_400_not_500(settings, clean_storage):
    application = _app_with_echo(settings)
    async with application.router.lifespan_context(application), await _client_for(application) as http:
        response = await http.post(
            "/_echo", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


async def test_bodies_over_one_mebibyte_get_413(settings, clean_storage):
    application = _app_with_echo(settings)
    payload = b'{"name": "' + b"x" * (1024 * 1024) + b'", "count": 1}'
    async with application.router.lifespan_context(application), await _client_for(application) as http:
        declared = await http.post("/_echo", content=payload, headers={"content-type": "application/json"})

        async def chunks():
            for start in range(0, len(payload), 64 * 1024):
                yield payload[start : start + 64 * 1024]

        streamed = await http.post("/_echo", content=chunks(), headers={"content-type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"


async def test_unknown_routes_answer_json_404(client):
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}

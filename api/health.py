"""Liveness and readiness: is this process up, and can it reach PostgreSQL and Redis."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import DbDep, RedisDep

router = APIRouter(tags=["health"])


class HealthDto(BaseModel):
    status: str
    database: str
    redis: str


async def _redis_ok(redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:
        return False


@router.get("/healthz", response_model=HealthDto, responses={503: {"model": HealthDto}})
async def healthz(db: DbDep, redis: RedisDep) -> JSONResponse:
    """200 when both PostgreSQL and Redis answer, 503 naming which one does not."""
    database_ok, redis_ok = await db.ping(), await _redis_ok(redis)
    body = HealthDto(status="ok" if database_ok and redis_ok else "unavailable",
                     database="ok" if database_ok else "unreachable",
                     redis="ok" if redis_ok else "unreachable")
    return JSONResponse(body.model_dump(), status_code=200 if database_ok and redis_ok else 503)


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process is up and serving (no dependency checks)."""
    return {"status": "ok"}

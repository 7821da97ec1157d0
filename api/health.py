"""Liveness and readiness: is this process up, and can it reach PostgreSQL and Redis.

`/livez` is for the supervisor (restart me if I stop answering); `/readyz` is for the load
balancer (send me traffic only when the database, Redis and the schema are all there).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.deps import DbDep, RedisDep

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
    body = HealthDto(
        status="ok" if database_ok and redis_ok else "unavailable",
        database="ok" if database_ok else "unreachable",
        redis="ok" if redis_ok else "unreachable",
    )
    return JSONResponse(body.model_dump(), status_code=200 if database_ok and redis_ok else 503)


class ReadinessDto(HealthDto):
    migrations: str


async def _pending_migrations(db) -> list[str] | None:
    """Migration files not yet applied to the database (None when it cannot be asked)."""
    from core.migrate import migration_files

    try:
        async with db.connection() as conn:
            applied = {
                row["name"]
                for row in await (await conn.execute("SELECT name FROM schema_migrations")).fetchall()
            }
    except Exception:
        return None
    return [path.name for path in migration_files() if path.name not in applied]


@router.get("/readyz", include_in_schema=False)
async def readyz(db: DbDep, redis: RedisDep) -> JSONResponse:
    """200 when PostgreSQL and Redis answer and every migration is applied; 503 naming what is not."""
    database_ok, redis_ok = await db.ping(), await _redis_ok(redis)
    pending = await _pending_migrations(db) if database_ok else None
    ready = database_ok and redis_ok and pending == []
    body = ReadinessDto(
        status="ok" if ready else "unavailable",
        database="ok" if database_ok else "unreachable",
        redis="ok" if redis_ok else "unreachable",
        migrations="unknown"
        if pending is None
        else ("ok" if not pending else "pending: " + ", ".join(pending)),
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process is up and serving (no dependency checks)."""
    return {"status": "ok"}

"""HTTP for the dashboard's data: activity logs, recent jobs, usage chart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.dashboard.schemas import LogRow, RecentJob, UsageBucket
from api.dashboard.service import DashboardService
from api.research.schemas import JobStatus
from auth.deps import CurrentUser
from core.deps import DbDep
from core.errors import error_responses
from core.pagination import PageDep

router = APIRouter()


async def get_dashboard_service(db: DbDep) -> DashboardService:
    return DashboardService(db)


DashboardDep = Annotated[DashboardService, Depends(get_dashboard_service)]


@router.get(
    "/api/logs",
    tags=["logs"],
    response_model=list[LogRow],
    responses=error_responses(400, 401),
    operation_id="list",
)
async def logs(
    user: CurrentUser,
    dashboard: DashboardDep,
    page: PageDep,
    anonymize: bool | None = None,
    status: JobStatus | None = None,
) -> list[LogRow]:
    return await dashboard.logs(
        user.id, status=status, limit=page.limit, offset=page.offset, anonymize=bool(anonymize)
    )


@router.get(
    "/api/dashboard/recent",
    tags=["dashboard"],
    response_model=list[RecentJob],
    responses=error_responses(401),
    operation_id="recent",
)
async def recent(user: CurrentUser, dashboard: DashboardDep) -> list[RecentJob]:
    return await dashboard.recent(user.id)


@router.get(
    "/api/dashboard/usage",
    tags=["dashboard"],
    response_model=list[UsageBucket],
    responses=error_responses(400, 401),
    operation_id="usage",
)
async def usage(
    user: CurrentUser,
    dashboard: DashboardDep,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> list[UsageBucket]:
    return await dashboard.usage(user.id, from_, to)

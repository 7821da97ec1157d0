"""Credits over HTTP: the balance (dashboard and public API) and the admin ledger tools."""

from __future__ import annotations

import uuid
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from auth.deps import AdminUser, ApiKeyCaller, CurrentUser
from core.deps import DbDep
from core.errors import error_responses
from core.pagination import PageDep
from ledger.schemas import AdminLedgerRow, BalanceDto, CreditAdjustBody, CreditAdjustResponse
from ledger.service import LedgerService


async def get_ledger(db: DbDep) -> LedgerService:
    return LedgerService(db)


LedgerServiceDep = Annotated[LedgerService, Depends(get_ledger)]
UserIdPath = Annotated[UUID, Path(description="User id")]

router = APIRouter()


@router.get(
    "/api/credits/balance",
    tags=["credits"],
    operation_id="balance",
    response_description="Credit balance",
    responses=error_responses(401, 403),
)
async def balance(user: CurrentUser, ledger: LedgerServiceDep) -> BalanceDto:
    return BalanceDto.of(await ledger.buckets(user.id))


@router.get(
    "/v1/credits",
    tags=["credits"],
    operation_id="api_balance",
    summary="Get public API credit balance",
    description="Returns the remaining credit balance for the API key caller.",
    response_description="Credit balance",
    responses=error_responses(401, 403),
)
async def api_balance(caller: ApiKeyCaller) -> BalanceDto:
    """The buckets were read with the key (one round trip for the whole request)."""
    return BalanceDto.of(caller.buckets)


@router.post(
    "/api/admin/users/{id}/credits",
    tags=["admin"],
    operation_id="adjust_credits",
    response_description="New balance",
    responses=error_responses(400, 401, 403, 404, 409),
)
async def adjust_credits(
    id: UserIdPath, body: CreditAdjustBody, admin: AdminUser, ledger: LedgerServiceDep
) -> CreditAdjustResponse:
    """Without a client key every submit is its own adjustment; with one, a resubmit
    answers the first result and writes nothing."""
    key = f"admin:{body.idempotency_key or uuid.uuid4()}"
    entry = await ledger.adjust(
        id, body.delta_credits, idempotency_key=key, note=body.note, admin_id=admin.id
    )
    return CreditAdjustResponse(balance_after=entry.balance_after)


@router.get(
    "/api/admin/users/{id}/ledger",
    tags=["admin"],
    operation_id="user_ledger",
    response_description="Ledger rows",
    responses=error_responses(400, 401, 403, 404),
)
async def user_ledger(
    id: UserIdPath,
    admin: AdminUser,
    ledger: LedgerServiceDep,
    page: PageDep,
) -> list[AdminLedgerRow]:
    """Newest first."""
    entries = await ledger.entries(id, limit=page.limit, offset=page.offset)
    return [AdminLedgerRow.of(entry) for entry in entries]

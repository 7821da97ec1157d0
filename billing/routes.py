"""Billing over HTTP: the catalog, Checkout and Portal, payments, auto top-up, the Stripe
webhook receiver, and the admin view of stored Stripe events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Path, Request

from auth.deps import AdminUser, CurrentUser, per_user_limit
from billing.schemas import (
    AdminStripeEventRow,
    AutoTopupBody,
    AutoTopupSettingsDto,
    BillingStatusDto,
    CheckoutBody,
    CheckoutResponse,
    PackDto,
    PaymentRow,
    PlanDto,
)
from billing.service import BillingService
from billing.stripe_events import StripeEvents
from core.errors import error_responses
from core.pagination import PageDep


async def get_billing_service(request: Request) -> BillingService:
    return BillingService(request.app.state.db, request.app.state.settings)


async def get_stripe_events(request: Request) -> StripeEvents:
    state = request.app.state
    return StripeEvents(state.db, state.settings, state.mailer, relay=state.outbox_relay)


# Each checkout opens a Stripe session (a call and a row at Stripe): a script must not loop it.
CHECKOUTS_PER_USER_PER_HOUR = 30

BillingServiceDep = Annotated[BillingService, Depends(get_billing_service)]
StripeEventsDep = Annotated[StripeEvents, Depends(get_stripe_events)]

router = APIRouter(prefix="/api/billing", tags=["billing"])
admin_router = APIRouter(prefix="/api/admin/stripe-events", tags=["admin"])


@router.get(
    "/packs",
    operation_id="list_packs",
    summary="List credit packs",
    responses={200: {"description": "List credit packs"}, **error_responses(401)},
)
async def list_packs(_: CurrentUser, billing: BillingServiceDep) -> list[PackDto]:
    return billing.packs()


@router.get(
    "/plans",
    operation_id="list_plans",
    summary="List subscription plans",
    responses={200: {"description": "List subscription plans"}},
)
async def list_plans(billing: BillingServiceDep) -> list[PlanDto]:
    return billing.plans()


@router.get(
    "/status",
    operation_id="billing_status",
    summary="Whether this server takes payments",
    responses={200: {"description": "Billing status"}, **error_responses(401)},
)
async def billing_status(_: CurrentUser, billing: BillingServiceDep) -> BillingStatusDto:
    return billing.status()


@router.post(
    "/checkout",
    operation_id="create_checkout",
    summary="Start a Stripe Checkout",
    responses={
        200: {"description": "Stripe Checkout URL"},
        **error_responses(400, 401, 409, 429, 500, 502, 503),
    },
    dependencies=[per_user_limit("checkout", CHECKOUTS_PER_USER_PER_HOUR, 3600)],
)
async def create_checkout(
    body: CheckoutBody, user: CurrentUser, billing: BillingServiceDep
) -> CheckoutResponse:
    return CheckoutResponse(url=await billing.checkout(user.id, body.pack_id))


@router.post(
    "/portal",
    operation_id="create_portal",
    summary="Open the Stripe Customer Portal",
    responses={
        200: {"description": "Stripe Customer Portal URL"},
        **error_responses(400, 401, 500, 502, 503),
    },
)
async def create_portal(user: CurrentUser, billing: BillingServiceDep) -> CheckoutResponse:
    return CheckoutResponse(url=await billing.portal(user.id))


@router.get(
    "/payment-history",
    operation_id="payment_history",
    summary="Payment history, newest first",
    responses={200: {"description": "Payment history"}, **error_responses(401)},
)
async def payment_history(user: CurrentUser, billing: BillingServiceDep) -> list[PaymentRow]:
    return await billing.payment_history(user.id)


@router.get(
    "/auto-topup",
    operation_id="auto_topup",
    summary="Read auto top-up",
    responses={200: {"description": "Auto top-up as stored"}, **error_responses(401)},
)
async def auto_topup(user: CurrentUser, billing: BillingServiceDep) -> AutoTopupSettingsDto:
    return await billing.auto_topup(user.id)


@router.put(
    "/auto-topup",
    operation_id="update_auto_topup",
    summary="Set auto top-up",
    responses={200: {"description": "Auto top-up updated"}, **error_responses(400, 401)},
)
async def update_auto_topup(
    body: AutoTopupBody, user: CurrentUser, billing: BillingServiceDep
) -> AutoTopupSettingsDto:
    return await billing.set_auto_topup(user.id, body)


@router.post(
    "/stripe-webhook",
    operation_id="stripe_webhook",
    summary="Stripe webhook endpoint",
    responses={200: {"description": "Event accepted"}, **error_responses(400, 500, 503)},
)
async def stripe_webhook(
    request: Request,
    events: StripeEventsDep,
    background: BackgroundTasks,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> dict[str, bool]:
    """Stored before the answer; handled right after it, so Stripe never waits on our work (a
    failure is retried by the outbox relay)."""
    event_id = await events.receive(await request.body(), stripe_signature)
    if event_id is not None:
        background.add_task(events.run_now, event_id)
    return {"received": True}


@admin_router.get(
    "",
    operation_id="list_events",
    summary="Stored Stripe events, newest first",
    responses={200: {"description": "Stripe events page"}, **error_responses(401, 403)},
)
async def list_events(
    _: AdminUser,
    events: StripeEventsDep,
    page: PageDep,
) -> list[AdminStripeEventRow]:
    stored = await events.page(limit=page.limit, offset=page.offset)
    return [AdminStripeEventRow(has_body=bool(e.payload), **_row(e)) for e in stored]


@admin_router.post(
    "/{id}/replay",
    operation_id="replay_event",
    summary="Run a stored Stripe event again",
    responses={200: {"description": "Event replayed"}, **error_responses(401, 403, 404)},
)
async def replay_event(
    id: Annotated[str, Path(description="Stripe event id (evt_…)")], admin: AdminUser, events: StripeEventsDep
) -> AdminStripeEventRow:
    stored = await events.replay(id, admin_id=admin.id)
    return AdminStripeEventRow(has_body=bool(stored.payload), **_row(stored))


def _row(event) -> dict:
    return {
        "id": event.id,
        "event_type": event.event_type,
        "received_at": event.received_at,
        "processed_at": event.processed_at,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "dead_at": event.dead_at,
        "status": _status(event),
    }


def _status(event) -> str:
    if event.processed_at is not None:
        return "handled"
    if event.dead_at is not None:
        return "dead"
    return "retrying" if event.last_error else "received"

"""Billing's outbox handlers: overage reports, auto top-ups and Stripe event handling."""

from __future__ import annotations

from billing.stripe_events import StripeEvents
from billing.subscriptions import Subscriptions
from billing.topup import AutoTopup
from core.db import Database
from core.mail import Mailer
from core.outbox import OutboxRegistry
from core.settings import Settings


def register_billing_tasks(
    registry: OutboxRegistry, db: Database, settings: Settings, mailer: Mailer
) -> None:
    Subscriptions(db, settings).register(registry)
    AutoTopup(db, settings, mailer).register(registry)
    StripeEvents(db, settings, mailer).register(registry)

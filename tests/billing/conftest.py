"""Money tests run against an app wired to the fake Stripe (a real HTTP server per test)."""

from __future__ import annotations

import pytest

from tests.accounts import open_account
from tests.fakes.stripe_server import fake_stripe_fixture  # noqa: F401 (fixture)


@pytest.fixture
def settings(settings, fake_stripe):
    return fake_stripe.configure(settings).model_copy(update={"password_hash_memory_kib": 1024})


@pytest.fixture
def db(app):
    return app.state.db


@pytest.fixture
async def customer(client, db):
    return await open_account(client, db, credits=0)


@pytest.fixture
async def admin(client, db, app):
    from auth.service import AccountService

    account = await open_account(client, db, credits=0)
    state = app.state
    await AccountService(state.db, state.redis, state.settings, state.mailer).create_admin(
        account.email, None
    )
    return account

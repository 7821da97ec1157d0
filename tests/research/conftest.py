"""Fixtures for research jobs: the app with in-process workers, and funded accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.accounts import Account, open_account


@pytest.fixture
async def research_app(settings, clean_storage) -> AsyncIterator:
    """The app with two in-process research workers and the webhook sender running."""
    from api.app import create_app
    from api.runtime import background_services_for

    application = create_app(settings, background_services=background_services_for(settings, 2))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(research_app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=research_app),
                                 base_url="http://testserver", timeout=120) as http:
        yield http


@pytest.fixture
async def funded(api, research_app) -> Account:
    return await open_account(api, research_app.state.db, credits=1000)


@pytest.fixture
async def idle_api(app) -> AsyncIterator[httpx.AsyncClient]:
    """The app with no workers: jobs stay queued."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 timeout=60) as http:
        yield http


@pytest.fixture
async def idle_funded(idle_api, app) -> Account:
    return await open_account(idle_api, app.state.db, credits=1000)

"""Research against the fake Tavily (each search priced like the real one), with in-process workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.accounts import Account, open_account
from tests.fakes.tavily_server import FakeTavily
from tests.research.pages import PAGES


@pytest.fixture
def tavily() -> Iterator[FakeTavily]:
    with FakeTavily(PAGES) as fake:
        yield fake


@pytest.fixture
def web_settings(settings, tavily):
    return settings.model_copy(update={"tavily_api_key": tavily.api_key, "tavily_api_base": tavily.url})


@pytest.fixture
async def web_app(web_settings, clean_storage):
    """The app with two in-process workers searching the fake Tavily."""
    from api.app import create_app
    from api.runtime import background_services_for

    application = create_app(web_settings, background_services=background_services_for(web_settings, 2))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def web_api(web_app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web_app), base_url="http://testserver", timeout=120
    ) as http:
        yield http


@pytest.fixture
async def account(web_api, web_app) -> Account:
    return await open_account(web_api, web_app.state.db, credits=1000)

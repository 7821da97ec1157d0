"""Research against the fake Tavily (each search priced like the real one), with in-process workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.accounts import Account, open_account
from tests.conftest import app_with_workers, asgi_client
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
async def web_app(web_settings, clean_storage) -> AsyncIterator:
    """The app with two in-process workers searching the fake Tavily."""
    async for application in app_with_workers(web_settings):
        yield application


@pytest.fixture
async def web_api(web_app) -> AsyncIterator[httpx.AsyncClient]:
    async for http in asgi_client(web_app):
        yield http


@pytest.fixture
async def account(web_api, web_app) -> Account:
    return await open_account(web_api, web_app.state.db, credits=1000)


async def submit_async_job(
    api: httpx.AsyncClient, account: Account, question: str, mode: str = "lite"
) -> str:
    """Create an async job for `account` through the API (accepted, 202); returns its id."""
    accepted = await api.post(
        "/v1/research", headers=account.key, json={"question": question, "mode": mode, "async": True}
    )
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["id"]

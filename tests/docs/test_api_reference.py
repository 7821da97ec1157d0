"""The API reference works from the app alone, and bad field names get a useful answer."""

from __future__ import annotations

import re

import pytest

from api.docs import DOCS_DIST
from tests.accounts import open_account

pytestmark = pytest.mark.skipif(not DOCS_DIST.is_dir(), reason="run scripts/build_web.sh first")

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
ASSET = re.compile(r'(?:src|href)="(/[^"]+)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_same_origin_files_and_no_inline_script(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not INLINE_SCRIPT.search(response.text)
    assets = ASSET.findall(response.text)
    assert assets and "http" not in response.text.replace('"/openapi.json"', "")
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset


async def test_docs_assets_never_leave_their_folder(client):
    assert (await client.get("/docs/..%2F..%2Fpyproject.toml")).status_code == 404
    assert (await client.get("/docs/nothing.js")).status_code == 404


async def test_an_unknown_field_names_the_closest_allowed_one(client, app):
    account = await open_account(client, app.state.db, credits=0)
    response = await client.post(
        "/v1/research",
        headers=account.key,
        json={"question": "q?", "mode": "lite", "output_schema": {"type": "object"}},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert "Unknown field 'output_schema'; did you mean 'response_schema'?" in body["detail"]
    (error,) = body["errors"]
    assert error["field"] == "output_schema"
    assert "Allowed fields: question, mode" in error["message"] and "async" in error["message"]


async def test_an_unknown_field_with_nothing_close_lists_the_allowed_ones(client, app):
    account = await open_account(client, app.state.db, credits=0)
    response = await client.post("/v1/research", headers=account.key, json={"question": "q?", "zzz": 1})
    assert response.status_code == 400
    assert "Unknown field 'zzz'. Allowed fields: question" in response.json()["detail"]

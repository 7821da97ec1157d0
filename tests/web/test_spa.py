"""The dashboard is served at `/` with a history fallback, and API paths stay JSON."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from api.spa import mount_spa

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def dist(tmp_path):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><div id=root></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log('dashboard')")
    (root / "robots.txt").write_text("User-agent: *")
    (tmp_path / "secret.txt").write_text("outside dist")
    return root


async def _client(settings, dist_dir):
    application = create_app(settings)
    mount_spa(application, dist_dir)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t")


async def test_pages_fall_back_to_index_html_without_caching(settings, dist):
    async with await _client(settings, dist) as http:
        for path in ("/", "/billing", "/admin/users/3f1c?tab=ledger", "/reset-password?token=abc"):
            response = await http.get(path, headers=HTML)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html")
            assert "id=root" in response.text
            assert response.headers["cache-control"] == "no-cache"


async def test_fingerprinted_assets_are_cached_for_good_and_other_files_revalidate(settings, dist):
    async with await _client(settings, dist) as http:
        script = await http.get("/assets/index-abc123.js")
        robots = await http.get("/robots.txt")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert robots.text == "User-agent: *"
    assert robots.headers["cache-control"] == "no-cache"


async def test_api_paths_never_fall_back_and_answer_json(settings, dist):
    async with await _client(settings, dist) as http:
        for path in ("/api/nothing-here", "/v1/nothing-here", "/api", "/docs/nothing"):
            response = await http.get(path, headers=HTML)
            assert response.status_code == 404, path
            assert response.json()["code"] == "not_found"
        # a dashboard route, and a public API one (its router is matched first: api/app.py)
        wrong_methods = [await http.get("/api/auth/login", headers=HTML), await http.put("/v1/credits")]
        spec = await http.get("/openapi.json", headers=HTML)
    for wrong_method in wrong_methods:
        assert wrong_method.status_code == 405
        assert wrong_method.json()["code"] == "method_not_allowed"
    assert wrong_methods[1].headers["allow"] == "GET"
    assert spec.json()["info"]["title"] == "Infrence API"


async def test_non_html_requests_for_missing_files_get_a_json_404(settings, dist):
    async with await _client(settings, dist) as http:
        root = await http.get("/", headers={"accept": "*/*"})
        missing = await http.get("/assets/gone-123.js", headers={"accept": "*/*"})
        escape = await http.get("/assets/%2e%2e/%2e%2e/secret.txt", headers={"accept": "*/*"})
    assert root.status_code == 200 and root.headers["content-type"].startswith("text/html")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert escape.status_code == 404
    assert "outside dist" not in escape.text


async def test_an_unbuilt_dashboard_says_how_to_build_it(settings, tmp_path):
    async with await _client(settings, tmp_path / "no-dist") as http:
        response = await http.get("/", headers=HTML)
        health = await http.get("/livez")
    assert response.status_code == 404
    assert "build_web.sh" in response.json()["detail"]
    assert health.json() == {"status": "ok"}


def test_serve_without_npm_keeps_serving_the_api_with_one_warning(tmp_path, monkeypatch, caplog):
    from api import spa

    monkeypatch.setattr(spa.shutil, "which", lambda _name: None)
    spa.build_if_missing(tmp_path / "dist")
    assert not (tmp_path / "dist").exists()
    assert [r.getMessage() for r in caplog.records] == [
        "dashboard not built and npm is unavailable: serving the API only"
    ]


async def test_pages_carry_a_strict_policy_and_api_answers_carry_safe_headers(settings, clean_storage, dist):
    async with await _client(settings, dist) as client:
        page = await client.get("/billing", headers=HTML)
        api = await client.get("/openapi.json")
        missing = await client.get("/api/no-such-route")
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    )
    assert page.headers["referrer-policy"] == "same-origin"
    for answer in (page, api, missing):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    for answer in (api, missing):
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert answer.headers["referrer-policy"] == "no-referrer"

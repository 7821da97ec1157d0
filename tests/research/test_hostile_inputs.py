"""Inputs a hostile or careless client sends: answered 400 naming the field, never 500."""

from __future__ import annotations

from tests.graph.test_response_schema_bounds import doubling_chain


async def test_hostile_response_schemas_answer_400_naming_the_keyword(idle_api, idle_funded):
    cases = [
        (doubling_chain(18), "$ref"),
        (
            {
                "type": "object",
                "properties": {
                    "x": {
                        "type": "array",
                        "minItems": 1_000_000_000,
                        "items": {"type": "string", "minLength": 1_000_000},
                    }
                },
            },
            "minItems",
        ),
        ({"type": "object", "properties": {"x": {"type": "string", "pattern": "(a)\\1"}}}, "pattern"),
        ({"type": "object", "properties": {"x": {"type": "integer", "minimum": 2, "maximum": 1}}}, "minimum"),
    ]
    for schema, keyword in cases:
        response = await idle_api.post(
            "/v1/research", headers=idle_funded.key, json={"question": "q?", "response_schema": schema}
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "invalid_request"
        assert f"{keyword} at /" in body["detail"], body["detail"]


HUGE = 9223372036854775808  # one past PostgreSQL's bigint


async def test_unbounded_integers_answer_400_naming_the_field(idle_api, idle_funded, app):
    from auth.repository import AccountRepository

    async with app.state.db.connection() as conn:
        await AccountRepository().promote_to_admin(conn, idle_funded.email, None)
    user = idle_funded.user_id
    cases = [
        ("/api/logs", idle_funded.jwt),
        ("/v1/research", idle_funded.key),
        ("/api/admin/stripe-events", idle_funded.jwt),
        (f"/api/admin/users/{user}/ledger", idle_funded.jwt),
        ("/api/admin/users", idle_funded.jwt),
    ]
    for path, headers in cases:
        response = await idle_api.get(path, params={"offset": HUGE}, headers=headers)
        assert response.status_code == 400, (path, response.status_code, response.text)
        assert response.json()["errors"][0]["field"] == "offset", (path, response.text)
        fine = await idle_api.get(path, params={"offset": 2**31 - 1}, headers=headers)
        assert fine.status_code == 200, (path, fine.text)
    for field, value in (("max_credits", 10**20), ("max_wallclock_secs", HUGE)):
        response = await idle_api.post(
            "/v1/research", headers=idle_funded.key, json={"question": "q?", "mode": "max", field: value}
        )
        assert response.status_code == 400, (field, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.text


async def test_an_idempotency_key_reused_with_another_body_answers_409(idle_api, idle_funded, app):
    from tests.accounts import balance_of

    for path, headers in (("/v1/research", idle_funded.key), ("/api/playground/research", idle_funded.jwt)):
        key = {"Idempotency-Key": f"retry-{path}"}
        body = {"question": "What is a lease?", "mode": "lite", "async": True}
        first = await idle_api.post(path, headers={**headers, **key}, json=body)
        assert first.status_code == 202, first.text
        # The same body (keys reordered, a default spelled out) is a retry: the original job.
        again = await idle_api.post(
            path, headers={**headers, **key}, json={"async": True, "include_sources": True, **body}
        )
        assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
        other = await idle_api.post(
            path, headers={**headers, **key}, json={**body, "question": "Something else?"}
        )
        assert other.status_code == 409, other.text
        assert other.json()["code"] == "idempotency_key_reused"
    assert await balance_of(app.state.db, idle_funded) == 1000 - 2 * 15  # one reservation per key


async def test_a_schema_that_cannot_be_cast_fails_naming_keyword_and_path_and_is_charged_its_spend(
    settings, clean_storage
):
    """The client's input failed the job: it pays the provider spend (never above the price), and
    the error names keyword and path, never a value the sources or the model produced."""
    import math

    import httpx

    from api.app import create_app
    from api.runtime import background_services_for
    from ledger.check import check_ledger
    from tests.accounts import balance_of, open_account
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.tavily_server import FakeTavily
    from tests.graph.conftest import ENERGY_QUESTION, corpus_documents, online_settings

    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^zz[0-9]{9}qq$"}},
        "required": ["code"],
    }
    with FakeOpenAI() as llm, FakeTavily(corpus_documents()) as tavily:
        online = settings.model_copy(update=online_settings(llm, tavily, settings.data_dir))
        app = create_app(online, background_services=background_services_for(online, 1))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=120
            ) as http,
        ):
            account = await open_account(http, app.state.db, credits=1000)
            response = await http.post(
                "/v1/research",
                headers=account.key,
                json={"question": ENERGY_QUESTION, "mode": "lite", "response_schema": schema},
            )
            assert response.status_code == 200, response.text
            job = response.json()
            async with app.state.db.connection() as conn:
                cur = await conn.execute(
                    "SELECT kind FROM credit_ledger WHERE related_id = %s ORDER BY seq", (job["id"],)
                )
                kinds = [row["kind"] for row in await cur.fetchall()]
            balance = await balance_of(app.state.db, account)
            clean = (await check_ledger(app.state.db)).clean

    assert job["status"] == "failed", job
    assert "pattern at /code" in job["error"], job["error"]
    assert "fake answer" not in job["error"]  # what the model wrote is not echoed
    assert job["cost_usd"] > 0
    metered = math.ceil(round(job["cost_usd"] / 0.45 / 0.01, 6))
    assert job["credits_charged"] == min(15, metered) > 0
    assert balance == 1000 - job["credits_charged"]
    assert kinds == ["reserve", "release"]
    assert clean


async def test_checking_a_large_schema_does_not_hold_the_event_loop(idle_api, idle_funded):
    """Checking a 50 KB schema against the metaschema takes about a second of pure Python: the
    API keeps answering meanwhile (it is checked on a thread of its own)."""
    import asyncio
    import time

    schema = {
        "type": "object",
        "properties": {f"field_{i}": {"type": "string", "description": "d" * 10} for i in range(900)},
    }
    began = time.perf_counter()
    create = asyncio.create_task(
        idle_api.post(
            "/v1/research",
            headers=idle_funded.key,
            json={"question": "q?", "mode": "lite", "async": True, "response_schema": schema},
        )
    )
    answered_meanwhile, slowest = 0, 0.0
    while not create.done():
        started = time.perf_counter()
        assert (await idle_api.get("/healthz")).status_code == 200
        slowest = max(slowest, time.perf_counter() - started)
        answered_meanwhile += not create.done()
        await asyncio.sleep(0.01)
    took = time.perf_counter() - began
    assert (await create).status_code == 202
    assert answered_meanwhile >= 5, f"{answered_meanwhile} /healthz answers in the {took:.2f}s create"
    assert slowest < took / 3, f"a /healthz waited {slowest:.3f}s of the {took:.2f}s create"


async def test_a_nul_character_anywhere_in_a_json_body_is_a_400_naming_its_field(idle_api, idle_funded):
    cases = [
        ({"question": "a\u0000b"}, "question"),
        (
            {"question": "q?", "response_schema": {"type": "object", "properties": {"a\u0000": {}}}},
            "response_schema.properties.a\u0000",
        ),
        (
            {"question": "q?", "source_policy": {"include_domains": ["ok.com", "x\u0000.com"]}},
            "source_policy.include_domains[1]",
        ),
    ]
    for body, field in cases:
        response = await idle_api.post("/v1/research", headers=idle_funded.key, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errors"] == [
            {"field": field, "message": f"{field} may not contain a NUL character"}
        ]
    ticket = await idle_api.post(
        "/api/support", headers=idle_funded.jwt, json={"subject": "s", "body": "b\u0000"}
    )
    assert ticket.status_code == 400, ticket.text

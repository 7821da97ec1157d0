"""One vocabulary: the modes' prices served from the graph's price table, statuses and stop reasons
as OpenAPI enums, and bad filter values refused with a 400 naming the field."""

from __future__ import annotations

from graph.budget import StopReason
from graph.events import EVENT_DATA
from graph.modes import MODES


async def test_modes_are_public_and_match_the_price_table(client):
    response = await client.get("/v1/modes")  # no key, no session

    assert response.status_code == 200, response.text
    served = {m["mode"]: m for m in response.json()}
    assert list(served) == list(MODES)
    for name, mode in MODES.items():
        entry = served[name]
        assert entry["price_credits"] == mode.price_credits
        assert entry["metered"] is (mode.price_credits is None)
        assert entry["budgets"] == mode.budgets.as_dict()
    assert served["lite"]["price_note"] == "15 credits per run"
    assert "max_credits" in served["max"]["price_note"]


async def test_statuses_modes_and_stop_reasons_are_enums_in_the_schema(client):
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    assert schemas["JobStatus"]["enum"] == [
        "queued",
        "running",
        "awaiting_approval",
        "succeeded",
        "failed",
        "canceled",
    ]
    assert schemas["ResearchMode"]["enum"] == list(MODES)
    assert schemas["StopReason"]["enum"] == [reason.value for reason in StopReason]
    for dto in (
        "ResearchResult",
        "AsyncAccepted",
        "ResearchLogRow",
        "LogRow",
        "RecentJob",
        "AdminUserJobRow",
    ):
        assert "JobStatus" in str(schemas[dto]["properties"]["status"]), dto
    assert "BasisEntry" in str(schemas["ResearchResult"]["properties"]["basis"])
    assert schemas["ErrorBody"]["properties"]["errors"]
    assert set(schemas["ResearchEvent"]["discriminator"]["mapping"]) >= set(EVENT_DATA) | {
        "job.queued",
        "job.started",
        "job.succeeded",
        "job.failed",
        "job.canceled",
    }


async def test_an_unknown_status_filter_is_a_400_naming_the_field(client, idle_funded):
    response = await client.get("/v1/research?status=done", headers=idle_funded.key)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"
    assert (await client.get("/api/logs?status=done", headers=idle_funded.jwt)).status_code == 400
    assert (await client.get("/v1/research?status=queued", headers=idle_funded.key)).status_code == 200


async def test_pages_are_bounded_the_same_everywhere(client, idle_funded):
    for path, headers in (("/v1/research", idle_funded.key), ("/api/logs", idle_funded.jwt)):
        assert (await client.get(f"{path}?limit=201", headers=headers)).status_code == 400
        assert (await client.get(f"{path}?offset={2**31}", headers=headers)).status_code == 400
        assert (await client.get(f"{path}?limit=200&offset=5", headers=headers)).status_code == 200

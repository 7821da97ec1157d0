"""Dashboard data: activity logs (with anonymisation), recent jobs, daily usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.dashboard.service import usage_window


async def _create(idle_api, account, question: str) -> str:
    response = await idle_api.post(
        "/v1/research", headers=account.key, json={"question": question, "mode": "lite", "async": True}
    )
    assert response.status_code == 202
    return response.json()["id"]


async def test_logs_paginate_filter_and_anonymize(idle_api, idle_funded):
    ids = [await _create(idle_api, idle_funded, f"secret question {i}") for i in range(3)]
    await idle_api.delete(f"/v1/research/{ids[1]}", headers=idle_funded.key)

    rows = (await idle_api.get("/api/logs", headers=idle_funded.jwt)).json()
    assert [r["id"] for r in rows] == ids[::-1]
    assert rows[0]["question"] == "secret question 2" and rows[0]["mode"] == "lite"

    page = (await idle_api.get("/api/logs", params={"limit": 1, "offset": 1}, headers=idle_funded.jwt)).json()
    assert [r["id"] for r in page] == [ids[1]]

    hidden = (await idle_api.get("/api/logs", params={"anonymize": "true"}, headers=idle_funded.jwt)).json()
    assert all("secret" not in r["question"] for r in hidden)
    again = (await idle_api.get("/api/logs", params={"anonymize": "true"}, headers=idle_funded.jwt)).json()
    assert [r["question"] for r in hidden] == [r["question"] for r in again]
    assert len({r["question"] for r in hidden}) == 3

    assert (
        await idle_api.get("/api/logs", params={"limit": 500}, headers=idle_funded.jwt)
    ).status_code == 400
    assert (await idle_api.get("/api/logs")).status_code == 401


async def test_recent_lists_the_ten_newest(idle_api, idle_funded):
    ids = [await _create(idle_api, idle_funded, f"q{i}") for i in range(12)]
    recent = (await idle_api.get("/api/dashboard/recent", headers=idle_funded.jwt)).json()
    assert [r["id"] for r in recent] == ids[::-1][:10]


async def test_usage_is_zero_filled_daily_buckets(idle_api, idle_funded):
    await _create(idle_api, idle_funded, "q")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    buckets = (await idle_api.get("/api/dashboard/usage", headers=idle_funded.jwt)).json()
    assert len(buckets) == 30
    assert buckets[-1]["jobs"] == 1 and sum(b["jobs"] for b in buckets) == 1
    assert datetime.fromisoformat(buckets[-1]["day"]) == today

    week = (
        await idle_api.get(
            "/api/dashboard/usage",
            headers=idle_funded.jwt,
            params={"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()},
        )
    ).json()
    assert len(week) == 7

    for params in (
        {"from": "yesterday"},
        {"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()},
        {"from": (today - timedelta(days=400)).isoformat()},
    ):
        response = await idle_api.get("/api/dashboard/usage", params=params, headers=idle_funded.jwt)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["field"] == "from"


def test_usage_window_counts_whole_utc_days():
    now = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
    first, last = usage_window(None, None, now=now)
    assert (first, last) == (datetime(2026, 2, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))

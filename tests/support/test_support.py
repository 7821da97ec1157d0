"""Support tickets from the user's side: validation, storage with the user's email, confirmation mail."""

from __future__ import annotations

import pytest

from tests.accounts import open_account
from tests.clock import pin_clock


@pytest.fixture
async def member(client, app):
    return await open_account(client, app.state.db, credits=0, verified=True)


async def test_a_ticket_is_stored_with_the_users_email_and_confirmed_by_mail(client, app, member):
    response = await client.post(
        "/api/support",
        json={"category": "billing", "subject": "  Double charge ", "body": "I was charged twice."},
        headers=member.jwt,
    )
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["status"] == "open"
    async with app.state.db.connection() as conn:
        cur = await conn.execute(
            "SELECT user_id, email, category, subject, body FROM support_tickets WHERE id = %s",
            (receipt["id"],),
        )
        stored = await cur.fetchone()
        cur = await conn.execute(
            "SELECT template, subject, text_body FROM mail_outbox WHERE to_address = %s"
            " AND template LIKE 'ticket%%'",
            (member.email,),
        )
        mails = await cur.fetchall()
    assert stored == {
        "user_id": member.user_id,
        "email": member.email,
        "category": "billing",
        "subject": "Double charge",
        "body": "I was charged twice.",
    }
    assert [m["template"] for m in mails] == ["ticket_received"]
    assert receipt["id"] in mails[0]["subject"] and receipt["id"] in mails[0]["text_body"]
    assert "Double charge" not in mails[0]["subject"]  # never the user's words in a subject line


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "spam"}, "category"),
        ({"category": "Billing"}, "category"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"body": ""}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"category": None}, "category"),
    ],
)
async def test_bad_tickets_are_400_naming_the_field(client, app, member, change, field):
    ticket = {"category": "bug", "subject": "Crash", "body": "It crashed.", **change}
    response = await client.post("/api/support", json=ticket, headers=member.jwt)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    async with app.state.db.connection() as conn:
        assert (await (await conn.execute("SELECT count(*) AS n FROM support_tickets")).fetchone())["n"] == 0


async def test_every_category_of_the_contract_is_accepted(client, member):
    for category in ("general", "billing", "bug", "account", "feature"):
        response = await client.post(
            "/api/support", json={"category": category, "subject": "s", "body": "b"}, headers=member.jwt
        )
        assert response.status_code == 200, (category, response.text)


async def test_an_unverified_account_cannot_open_tickets(client, app):
    unverified = await open_account(client, app.state.db, credits=0)
    response = await client.post(
        "/api/support", json={"category": "bug", "subject": "s", "body": "b"}, headers=unverified.jwt
    )
    assert response.status_code == 403 and response.json()["code"] == "email_not_verified"


async def test_tickets_are_limited_per_user(client, app, member):
    pin_clock(app)
    ticket = {"category": "bug", "subject": "s", "body": "b"}
    for _ in range(10):
        assert (await client.post("/api/support", json=ticket, headers=member.jwt)).status_code == 200
    limited = await client.post("/api/support", json=ticket, headers=member.jwt)
    assert limited.status_code == 429 and "Retry-After" in limited.headers


async def test_users_list_their_own_tickets_newest_first(client, app, member):
    other = await open_account(client, app.state.db, credits=0, verified=True)
    for subject in ("First", "Second"):
        sent = await client.post(
            "/api/support", json={"category": "bug", "subject": subject, "body": "b"}, headers=member.jwt
        )
        assert sent.status_code == 200
    await client.post(
        "/api/support", json={"category": "bug", "subject": "Not yours", "body": "b"}, headers=other.jwt
    )

    mine = await client.get("/api/support", headers=member.jwt)
    assert mine.status_code == 200
    assert [(t["subject"], t["status"], t["reply_count"]) for t in mine.json()] == [
        ("Second", "open", 0),
        ("First", "open", 0),
    ]
    assert (await client.get("/api/support", params={"limit": 1}, headers=member.jwt)).json()[0][
        "subject"
    ] == "Second"
    assert (await client.get("/api/support")).status_code == 401
    assert (await client.get("/api/support", params={"limit": 0}, headers=member.jwt)).status_code == 400

"""Admin ticket desk: filtered lists, detail with replies, replies that may mail the user, close/reopen."""

from __future__ import annotations

import uuid

from tests.admin.conftest import audit_actions, outbox


async def open_ticket(client, account, category: str = "bug", subject: str = "It broke") -> str:
    response = await client.post(
        "/api/support",
        json={"category": category, "subject": subject, "body": "Steps to reproduce..."},
        headers=account.jwt,
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def test_tickets_are_filtered_by_status_and_category(client, admin, member):
    bug, billing = await open_ticket(client, member, "bug"), await open_ticket(client, member, "billing")
    await client.post(f"/api/admin/tickets/{bug}/close", headers=admin.jwt)

    async def ids(**params) -> list[str]:
        response = await client.get("/api/admin/tickets", params=params, headers=admin.jwt)
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()]

    assert await ids() == [billing, bug]
    assert await ids(status="open") == [billing]
    assert await ids(status="closed", category="bug") == [bug]
    assert await ids(category="feature") == []
    assert await ids(limit=1, offset=1) == [bug]
    for params in ({"status": "pending"}, {"category": "spam"}):
        response = await client.get("/api/admin/tickets", params=params, headers=admin.jwt)
        assert (response.status_code, response.json()["errors"][0]["field"]) == (400, *params)
    row = (await client.get("/api/admin/tickets", headers=admin.jwt)).json()[0]
    assert (row["email"], row["user_id"], row["reply_count"]) == (member.email, str(member.user_id), 0)


async def test_a_reply_with_send_email_mails_the_user_and_shows_in_the_detail(client, app, admin, member):
    ticket = await open_ticket(client, member, subject="Refund please")
    quiet = await client.post(
        f"/api/admin/tickets/{ticket}/reply",
        json={"body": "Looking into it.", "send_email": False},
        headers=admin.jwt,
    )
    mailed = await client.post(
        f"/api/admin/tickets/{ticket}/reply",
        json={"body": "Refunded 15 credits.", "send_email": True},
        headers=admin.jwt,
    )
    assert quiet.status_code == mailed.status_code == 200
    assert (quiet.json()["sent_email"], mailed.json()["sent_email"]) == (False, True)

    mails = [m for m in await outbox(app, member.email) if m["template"] == "ticket_reply"]
    assert len(mails) == 1
    assert ticket in mails[0]["subject"] and "Refund please" not in mails[0]["subject"]
    assert "Refunded 15 credits." in mails[0]["text_body"]

    detail = (await client.get(f"/api/admin/tickets/{ticket}", headers=admin.jwt)).json()
    assert [r["body"] for r in detail["replies"]] == ["Looking into it.", "Refunded 15 credits."]
    assert detail["assigned_admin_id"] == str(admin.user_id) and detail["body"] == "Steps to reproduce..."
    assert (await client.get("/api/admin/tickets", headers=admin.jwt)).json()[0]["reply_count"] == 2
    assert await audit_actions(app, ticket) == ["ticket.reply", "ticket.reply"]


async def test_a_bad_reply_is_400(client, admin, member):
    ticket = await open_ticket(client, member)
    for body in (
        {"body": "   ", "send_email": False},
        {"body": "hi"},
        {"send_email": True},
        {"body": "x" * 10_001, "send_email": False},
    ):
        response = await client.post(f"/api/admin/tickets/{ticket}/reply", json=body, headers=admin.jwt)
        assert response.status_code == 400, body
    assert (await client.get(f"/api/admin/tickets/{ticket}", headers=admin.jwt)).json()["replies"] == []


async def test_close_and_reopen_are_idempotent_and_audited_once_each(client, app, admin, member):
    ticket = await open_ticket(client, member)
    for action, status in (("close", "closed"), ("close", "closed"), ("reopen", "open"), ("reopen", "open")):
        response = await client.post(f"/api/admin/tickets/{ticket}/{action}", headers=admin.jwt)
        assert (response.status_code, response.json()["status"]) == (200, status)
    assert await audit_actions(app, ticket) == ["ticket.close", "ticket.reopen"]
    audit = await client.get(
        "/api/admin/audit", params={"target_type": "ticket", "target_id": ticket}, headers=admin.jwt
    )
    assert [(row["action"], row["admin_id"]) for row in audit.json()] == [
        ("ticket.reopen", str(admin.user_id)),
        ("ticket.close", str(admin.user_id)),
    ]


async def test_an_unknown_ticket_is_404(client, admin):
    for method, suffix in (("GET", ""), ("POST", "/close"), ("POST", "/reopen"), ("POST", "/reply")):
        response = await client.request(
            method,
            f"/api/admin/tickets/{uuid.uuid4()}{suffix}",
            headers=admin.jwt,
            json={"body": "hi", "send_email": False} if suffix == "/reply" else None,
        )
        assert response.status_code == 404, suffix

"""Verification and password reset through mail: a real SMTP server, links followed."""

from __future__ import annotations

import logging
import re

import pytest

from tests.auth.conftest import PASSWORD
from tests.waiting import until

LINK = re.compile(r"(https?://\S+token=[\w-]+)")


@pytest.fixture
def settings(settings, smtp_server):
    return settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port, "smtp_tls": False}
    )


def _link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert message.get_body(preferencelist=("html",)) is not None
    return LINK.search(text).group(1)


async def test_following_the_mailed_link_verifies_the_account_and_grants_credits(
    client, accounts, smtp_server
):
    signed_in = await accounts.signup()
    message = await smtp_server.wait_for(signed_in.email, "Confirm")
    assert message["Subject"] == "Confirm your Infrence email address"
    link = _link(message)
    assert link.startswith("http://testserver/api/auth/verify-email?token=")

    response = await client.get(link.removeprefix("http://testserver"))
    assert response.status_code == 302
    assert response.headers["location"] == "http://testserver/?verified=1"
    me = await accounts.me(signed_in.access_token)
    assert me.json()["email_verified"] is True
    assert accounts.sql("SELECT balance FROM credit_accounts") == [(100,)]
    assert accounts.sql("SELECT kind, delta FROM credit_ledger") == [("signup_grant", 100)]
    await until(lambda: accounts.sql("SELECT status FROM mail_outbox") == [("sent",)], what="the mail sent")

    again = await client.get(link.removeprefix("http://testserver"))
    assert again.status_code == 400
    assert accounts.sql("SELECT balance FROM credit_accounts") == [(100,)]


async def test_a_delivered_mail_is_kept_without_its_token_link(client, accounts, smtp_server):
    signed_in = await accounts.signup()
    link = _link(await smtp_server.wait_for(signed_in.email, "Confirm"))
    token = link.partition("token=")[2]
    await until(
        lambda: (
            accounts.sql("SELECT status FROM mail_outbox WHERE to_address = %s", (signed_in.email,))
            == [("sent",)]
        ),
        what="the mail marked sent",
    )
    [(text, html)] = accounts.sql(
        "SELECT text_body, html_body FROM mail_outbox WHERE to_address = %s", (signed_in.email,)
    )
    assert token not in text and token not in html
    assert "[link removed after delivery]" in text and "[link removed after delivery]" in html
    assert "confirm your email address" in text  # the row stays readable for support
    response = await client.get(link.removeprefix("http://testserver"))
    assert response.status_code == 302  # the recipient's copy still works


async def test_bad_or_expired_verification_tokens_are_400(client, accounts, smtp_server):
    signed_in = await accounts.signup()
    link = _link(await smtp_server.wait_for(signed_in.email, "Confirm"))
    bad = await client.get("/api/auth/verify-email", params={"token": "nope"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_token"
    assert (await client.get("/api/auth/verify-email")).status_code == 400
    accounts.sql(
        "UPDATE email_tokens SET created_at = now() - interval '2 days', "
        "expires_at = now() - interval '1 day'"
    )
    assert (await client.get(link.removeprefix("http://testserver"))).status_code == 400


async def test_forgot_password_answers_the_same_for_known_and_unknown_emails(client, accounts, smtp_server):
    signed_in = await accounts.signup()
    known = await client.post("/api/auth/forgot-password", json={"email": signed_in.email})
    unknown = await client.post("/api/auth/forgot-password", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    await smtp_server.wait_for(signed_in.email, "Reset")
    reset_mails = [m for m in smtp_server.messages if "Reset" in m["Subject"]]
    assert [m["To"] for m in reset_mails] == [signed_in.email]
    assert accounts.sql("SELECT count(*) FROM mail_outbox WHERE to_address = 'ghost@example.com'") == [(0,)]


async def test_reset_sets_the_password_and_revokes_every_session(client, accounts, smtp_server):
    signed_in = await accounts.signup()
    second = await accounts.login(signed_in.email)
    await client.post("/api/auth/forgot-password", json={"email": signed_in.email})
    reset_mail = await smtp_server.wait_for(signed_in.email, "Reset")
    token = _link(reset_mail).split("token=")[1]

    weak = await client.post("/api/auth/reset-password", json={"token": token, "password": "short"})
    assert weak.status_code == 400 and weak.json()["errors"][0]["field"] == "password"
    response = await client.post(
        "/api/auth/reset-password", json={"token": token, "password": "a brand new passphrase"}
    )
    assert response.status_code == 200

    for session in (signed_in, second):
        assert (await accounts.me(session.access_token)).status_code == 401
        assert (await accounts.refresh(session.refresh_token)).status_code == 401
    old = await client.post("/api/auth/login", json={"email": signed_in.email, "password": PASSWORD})
    assert old.status_code == 401
    await accounts.login(signed_in.email, "a brand new passphrase")

    reused = await client.post(
        "/api/auth/reset-password", json={"token": token, "password": "yet another passphrase"}
    )
    assert reused.status_code == 400 and reused.json()["code"] == "invalid_token"


async def test_reset_with_an_unknown_token_is_400(client):
    response = await client.post(
        "/api/auth/reset-password", json={"token": "nope", "password": "a brand new passphrase"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "token", "message": "Invalid or expired token"}]


async def test_ticket_and_topup_templates_render_escaped_html():
    from core.mail import render

    reply = render("ticket_reply", ticket_id="t-1", subject="Help", reply="<script>x</script>")
    assert "<script>" in reply.text and "&lt;script&gt;" in reply.html and "t-1" in reply.subject
    received = render("ticket_received", ticket_id="t-1", subject="Click http://evil.example now")
    assert "evil" not in received.subject and "evil" in received.text  # the user's words stay in the body
    assert "150" in render("topup_failed", credits=150, reason="card declined").text


async def test_without_smtp_mail_is_logged_without_its_token_and_kept(settings, clean_storage, caplog):
    import httpx

    from api.app import create_app
    from tests.auth.conftest import AccountsApi

    application = create_app(settings.model_copy(update={"smtp_host": None}))
    caplog.set_level(logging.INFO, logger="core.mail")
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http,
    ):
        accounts = AccountsApi(http, settings.database_url)
        signed_in = await accounts.signup()
    [(status, text_body)] = accounts.sql("SELECT status, text_body FROM mail_outbox")
    token = LINK.search(text_body).group(1).split("token=")[1]
    assert status == "logged"
    assert signed_in.email in caplog.text and token not in caplog.text

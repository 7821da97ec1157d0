"""Mail without a mail server: printed to the console in dev (links included), resendable,
readable with `infrence mail list|show`, and refused in production unless asked for."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

from core.settings import SettingsError, load_settings
from tests.conftest import REPO, server_env

LINK = re.compile(r"(https?://\S+/api/auth/verify-email\?token=[\w-]+)")


async def test_dev_mail_is_printed_with_a_link_that_verifies_the_account(client, accounts, capsys):
    signed_in = await accounts.signup()
    printed = json.loads(capsys.readouterr().out)  # not a terminal: one JSON line
    assert printed["message"] == f"mail to {signed_in.email}: Confirm your Infrence email address"
    (link,) = printed["mail"]["links"]
    assert LINK.fullmatch(link) and link in printed["mail"]["text"]

    assert (await client.get(link.removeprefix("http://testserver"))).status_code == 302
    assert (await accounts.me(signed_in.access_token)).json()["email_verified"] is True
    assert (await client.get("/api/auth/mail-delivery")).json() == {"delivery": "console"}


async def test_resend_mails_a_fresh_link_until_verified(client, accounts, capsys):
    signed_in = await accounts.signup()
    first = LINK.search(capsys.readouterr().out).group(1)

    resent = await client.post("/api/auth/resend-verification", headers=signed_in.headers)
    assert resent.status_code == 200, resent.text
    assert resent.json() == {"delivery": "console"}
    second = LINK.search(capsys.readouterr().out).group(1)
    assert second != first
    assert (await client.get(second.removeprefix("http://testserver"))).status_code == 302

    again = await client.post("/api/auth/resend-verification", headers=signed_in.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "already_verified"
    assert (await client.post("/api/auth/resend-verification")).status_code == 401


async def test_resend_is_rate_limited_per_user(client, accounts):
    signed_in = await accounts.signup()
    for _ in range(5):
        assert (
            await client.post("/api/auth/resend-verification", headers=signed_in.headers)
        ).status_code == 200
    refused = await client.post("/api/auth/resend-verification", headers=signed_in.headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert accounts.sql("SELECT count(*) FROM mail_outbox WHERE template = 'verify'") == [(6,)]


@pytest.fixture
def log_only_settings(settings):
    return settings.model_copy(update={"mail": "log"})


async def test_log_mode_keeps_mail_in_the_outbox_only(log_only_settings, clean_storage, capsys):
    import httpx

    from api.app import create_app

    app = create_app(log_only_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        response = await http.post(
            "/api/auth/signup", json={"email": "quiet@example.com", "password": "x" * 12 + "!7a"}
        )
        assert response.status_code == 200, response.text
        assert (await http.get("/api/auth/mail-delivery")).json() == {"delivery": "log"}
    assert "verify-email" not in capsys.readouterr().out


def test_a_terminal_gets_the_mail_as_a_person_reads_it():
    from uuid import uuid4

    from core.mail import OutboxMessage, print_to_console, render

    out = io.StringIO()
    link = "http://127.0.0.1:8000/api/auth/verify-email?token=abc"
    print_to_console(
        OutboxMessage(uuid4(), "ada@example.com", "verify", render("verify", link=link)), stream=out
    )
    assert "Mail to ada@example.com: Confirm your Infrence email address" in out.getvalue()
    assert f"\n{link}\n" in out.getvalue()


def test_production_without_smtp_refuses_to_start_unless_mail_is_logged(monkeypatch):
    monkeypatch.setenv("INFRENCE_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-" + "x" * 40)
    monkeypatch.setenv("INFRENCE_SECRET_KEY", "k" * 43 + "=")
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("INFRENCE_MAIL", raising=False)
    with pytest.raises(SettingsError, match="SMTP_HOST"):
        load_settings()
    monkeypatch.setenv("INFRENCE_MAIL", "log")
    assert load_settings().mail_delivery == "log"
    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    assert load_settings().mail_delivery == "smtp"


async def test_mail_cli_lists_and_shows_the_outbox(settings, accounts, capsys):
    signed_in = await accounts.signup()
    link = LINK.search(capsys.readouterr().out).group(1)
    env = server_env(settings)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "mail", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if signed_in.email in line)
    assert "logged" in line and "verify" in line
    shown = cli("show", line.split()[0])
    assert shown.returncode == 0, shown.stderr
    assert link in shown.stdout
    assert cli("show", "not-an-id").returncode == 1

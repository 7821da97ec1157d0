"""Mail goes through the outbox: written with the fact it announces, sent when SMTP is back."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.smtp import FakeSmtpServer
from tests.outbox.conftest import eventually


@pytest.fixture
def smtp_later():
    """An SMTP server that is down until the test starts it."""
    server = FakeSmtpServer()
    yield server
    try:
        server.stop()
    except Exception:
        pass  # never started


@pytest.fixture
def settings(settings, smtp_later):
    return settings.model_copy(
        update={
            "smtp_host": smtp_later.host,
            "smtp_port": smtp_later.port,
            "smtp_tls": False,
            "outbox_retry_first_secs": 2.0,  # the production schedule: 2, 4, 8 s ...
            "outbox_max_attempts": 12,
        }
    )


async def mail_row(app, email: str) -> dict:
    async with app.state.db.connection() as conn:
        cur = await conn.execute(
            "SELECT status, attempts, last_error FROM mail_outbox WHERE to_address = %s", (email,)
        )
        return await cur.fetchone()


async def test_a_verification_mail_sent_while_smtp_is_down_arrives_once_it_is_back(app, client, smtp_later):
    email = "late-mail@example.com"
    signup = await client.post("/api/auth/signup", json={"email": email, "password": "correct horse battery"})
    assert signup.status_code == 200, signup.text
    failed = await eventually(lambda: _failed_at_least_once(app, email), timeout=30)
    assert failed["status"] == "pending" and "SMTPConnectError" in failed["last_error"]

    await asyncio.sleep(10)
    smtp_later.start()

    message = await smtp_later.wait_for(email, "Confirm", timeout=90)
    sent = await eventually(lambda: _sent(app, email), timeout=30)
    await asyncio.sleep(3)  # room for a duplicate to show up
    assert [m["To"] for m in smtp_later.messages] == [email]
    assert sent["attempts"] >= 2
    assert message["Message-ID"].endswith("@infrence>")


async def _failed_at_least_once(app, email: str):
    row = await mail_row(app, email)
    return row if row is not None and row["attempts"] >= 1 else None


async def _sent(app, email: str):
    row = await mail_row(app, email)
    return row if row["status"] == "sent" else None

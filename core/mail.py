"""Transactional mail: render a template, keep it in the `mail_outbox`, deliver through the outbox.

Every message is a `mail_outbox` row plus an outbox task, both written in the caller's
transaction (`enqueue`), so mail announcing a fact is sent if and only if the fact commits. The
outbox relay delivers it (`Mailer.deliver`, the one place a message leaves over SMTP) and
retries with backoff while the SMTP server is away; once sent, the kept copy loses its token
links (verify, reset), which only the recipient needs. With no `SMTP_HOST`, the row is kept with
status `logged` and `dispatch` (after commit) says so in one log line — never the body, which
may hold a token; in dev (`INFRENCE_MAIL=console`, the default there) the whole message is also
printed to the server's console, so a developer without a mail server can click its links.

Templates (in `auth/templates/`, `NAME.txt` starting with a `Subject:` line, plus `NAME.html`)
and the context each needs:
  verify(link), reset(link), ticket_received(ticket_id, subject),
  ticket_reply(ticket_id, subject, reply), topup_failed(credits, reason).
"""

from __future__ import annotations

import html
import json
import logging
import re
import string
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Annotated, TextIO
from uuid import UUID

import aiosmtplib
from fastapi import Depends, FastAPI, Request
from psycopg import AsyncConnection

from core import outbox
from core.db import Database
from core.logging import log_format_for
from core.outbox import OutboxRegistry
from core.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
LINK = re.compile(r"https?://\S+")
# A link carrying a one-time token (verify, reset): a bearer credential while it is valid.
TOKEN_LINK = re.compile(r"""https?://[^\s"'<>]*[?&](?:amp;)?token=[^\s"'<>]*""")
TOKEN_LINK_REMOVED = "[link removed after delivery]"
MAIL_TASK = "mail.deliver"

INSERT_OUTBOX = """
INSERT INTO mail_outbox (to_address, template, subject, text_body, html_body, status)
VALUES (%(to)s, %(template)s, %(subject)s, %(text)s, %(html)s, %(status)s)
RETURNING id"""

PENDING_MESSAGE = """
SELECT id, to_address, template, subject, text_body, html_body FROM mail_outbox
WHERE id = %(id)s AND status = 'pending'"""

# Sent: the kept copy loses its token links (see `without_token_links`).
MARK_SENT = """
UPDATE mail_outbox SET status = 'sent', attempts = attempts + 1, sent_at = now(),
    text_body = %(text)s, html_body = %(html)s
WHERE id = %(id)s"""

MARK_ATTEMPT_FAILED = (
    "UPDATE mail_outbox SET attempts = attempts + 1, last_error = %(error)s WHERE id = %(id)s"
)

MARK_FAILED = "UPDATE mail_outbox SET status = 'failed' WHERE id = %(id)s AND status = 'pending'"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class OutboxMessage:
    id: UUID
    to: str
    template: str
    rendered: Rendered


@cache
def _template(name: str) -> tuple[str, string.Template, string.Template]:
    text_path, html_path = TEMPLATES / f"{name}.txt", TEMPLATES / f"{name}.html"
    if not text_path.is_file() or not html_path.is_file():
        raise ValueError(f"unknown mail template {name!r}")
    subject_line, _, text = text_path.read_text().partition("\n")
    if not subject_line.startswith("Subject: "):
        raise ValueError(f"mail template {name!r} must start with a Subject: line")
    return (
        subject_line.removeprefix("Subject: "),
        string.Template(text.lstrip("\n")),
        string.Template(html_path.read_text()),
    )


def render(template: str, **context: object) -> Rendered:
    """Plain text and HTML of a template; HTML gets the context escaped."""
    subject, text, markup = _template(template)
    values = {key: str(value) for key, value in context.items()}
    return Rendered(
        subject=string.Template(subject).substitute(values),
        text=text.substitute(values),
        html=markup.substitute({key: html.escape(value) for key, value in values.items()}),
    )


def without_token_links(body: str) -> str:
    """A delivered message as the outbox keeps it: the recipient has the token, the database
    (its backups, an admin reading it) no longer needs to."""
    return TOKEN_LINK.sub(TOKEN_LINK_REMOVED, body)


def print_to_console(message: OutboxMessage, *, fmt: str = "text", stream: TextIO | None = None) -> None:
    """The message as a person reads it, links included — written past the log redaction on
    purpose (a dev console is where the verification link has to be found). With JSON logs it is
    one JSON line carrying the text and its links, so the stream stays parseable."""
    out = stream or sys.stdout
    body = message.rendered.text.rstrip()
    if fmt == "json":
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": __name__,
            "message": f"mail to {message.to}: {message.rendered.subject}",
            "mail": {"id": str(message.id), "to": message.to, "text": body, "links": LINK.findall(body)},
        }
        out.write(json.dumps(record) + "\n")
    else:
        rule = "─" * 72
        out.write(f"\n{rule}\n  Mail to {message.to}: {message.rendered.subject}\n{rule}\n{body}\n{rule}\n\n")
    out.flush()


class Mailer:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    @property
    def smtp_configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def register(self, registry: OutboxRegistry) -> None:
        """The relay delivers mail tasks; one that gives up leaves its message `failed`."""
        registry.register(MAIL_TASK, self.deliver, on_dead=self._gave_up)

    async def send(self, template: str, to: str, **context: object) -> UUID:
        """Render and keep in the outbox in a transaction of its own; returns the outbox id."""
        async with self.db.transaction() as tx:
            message = await self.enqueue(tx, template, to, **context)
        self.dispatch(message)
        return message.id

    async def enqueue(
        self, conn: AsyncConnection, template: str, to: str, **context: object
    ) -> OutboxMessage:
        """Write the message and its delivery task inside the caller's transaction; call
        `dispatch` after commit."""
        rendered = render(template, **context)
        status = "pending" if self.smtp_configured else "logged"
        cur = await conn.execute(
            INSERT_OUTBOX,
            {
                "to": to,
                "template": template,
                "subject": rendered.subject,
                "text": rendered.text,
                "html": rendered.html,
                "status": status,
            },
        )
        message = OutboxMessage(id=(await cur.fetchone())["id"], to=to, template=template, rendered=rendered)
        if self.smtp_configured:
            await outbox.enqueue(conn, MAIL_TASK, {"mail_id": str(message.id)}, key=f"mail:{message.id}")
        return message

    def dispatch(self, message: OutboxMessage) -> None:
        """After commit. With SMTP the outbox relay delivers (`deliver`); without, say where the
        message is kept and, in dev, print it."""
        if self.smtp_configured:
            return
        log.info(
            "mail %r to %s kept in the outbox as %s (SMTP_HOST not set)",
            message.template,
            message.to,
            message.id,
        )
        if self.settings.mail_delivery == "console":
            print_to_console(message, fmt=log_format_for(configured=self.settings.log_format))

    async def deliver(self, payload: dict) -> None:
        """Outbox handler: send a pending message over SMTP and mark it sent. A failure is noted
        on the message and raised, so the relay retries. The Message-ID is the outbox id, so a
        resend after a crash between sending and marking is recognisable as the same mail."""
        async with self.db.connection() as conn:
            row = await (await conn.execute(PENDING_MESSAGE, {"id": payload["mail_id"]})).fetchone()
        if row is None:
            return  # sent already, or kept as `logged`
        message = OutboxMessage(
            id=row["id"],
            to=row["to_address"],
            template=row["template"],
            rendered=Rendered(subject=row["subject"], text=row["text_body"], html=row["html_body"]),
        )
        try:
            await self._send_smtp(message)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            async with self.db.connection() as conn:
                await conn.execute(
                    MARK_ATTEMPT_FAILED, {"id": message.id, "error": f"{type(exc).__name__}: {exc}"[:500]}
                )
            raise
        kept = message.rendered
        async with self.db.connection() as conn:
            await conn.execute(
                MARK_SENT,
                {
                    "id": message.id,
                    "text": without_token_links(kept.text),
                    "html": without_token_links(kept.html),
                },
            )

    async def _gave_up(self, payload: dict, _error: str) -> None:
        async with self.db.connection() as conn:
            await conn.execute(MARK_FAILED, {"id": payload["mail_id"]})

    async def _send_smtp(self, message: OutboxMessage) -> None:
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = message.to
        email["Subject"] = message.rendered.subject
        email["Message-ID"] = f"<{message.id}@infrence>"
        email.set_content(message.rendered.text)
        email.add_alternative(message.rendered.html, subtype="html")
        s = self.settings
        implicit_tls = s.smtp_tls and s.smtp_port == 465
        await aiosmtplib.send(
            email,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            use_tls=implicit_tls,
            start_tls=s.smtp_tls and not implicit_tls,
            timeout=30,
        )


async def start_mailer(app: FastAPI):
    """App-scoped service: `app.state.mailer` for routes, services and workers."""
    app.state.mailer = Mailer(app.state.db, app.state.settings)

    async def stop() -> None:
        """Nothing in flight here: the outbox relay owns delivery."""

    return stop


async def get_mailer(request: Request) -> Mailer:
    return request.app.state.mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]


LIST_OUTBOX = """
SELECT id, to_address, template, subject, status, created_at FROM mail_outbox
WHERE %(to)s::text IS NULL OR lower(to_address) = lower(%(to)s::text)
ORDER BY created_at DESC LIMIT %(limit)s"""

OUTBOX_MESSAGE = """
SELECT id, to_address, template, subject, status, created_at, text_body FROM mail_outbox
WHERE id::text LIKE %(prefix)s || '%%' ORDER BY created_at DESC LIMIT 2"""


async def list_outbox(conn: AsyncConnection, *, limit: int, to: str | None = None) -> list[dict]:
    """The newest outbox rows (what `infrence mail list` prints)."""
    cur = await conn.execute(LIST_OUTBOX, {"to": to, "limit": limit})
    return await cur.fetchall()


async def outbox_messages(conn: AsyncConnection, id_prefix: str) -> list[dict]:
    """Rows whose id starts with `id_prefix` (at most two: enough to tell it is ambiguous)."""
    cur = await conn.execute(OUTBOX_MESSAGE, {"prefix": id_prefix.lower()})
    return await cur.fetchall()

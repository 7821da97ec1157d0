"""Signed, durable webhook deliveries of terminal research results (docs/design.md, "Webhooks").

Each delivery is a row; a sender loop posts due rows through the SSRF-guarded client with
both signature schemes, retrying with exponential backoff until 24 hours have passed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import time
from datetime import timedelta
from uuid import UUID

import httpx
from psycopg import AsyncConnection

from api import metrics
from auth.webhook_secrets import WebhookSecrets
from core.db import Database
from core.errors import InvalidRequest
from core.secret_box import UnreadableSecret
from core.settings import Settings
from graph.providers.netguard import (
    PUBLIC_PORTS,
    guarded_client,
    is_http_url,
    is_public_address,
    resolve,
)

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECS = 10.0
MAX_BACKOFF = timedelta(hours=1)


async def check_webhook_url(url: str, *, allow_private: bool, field: str = "webhook_url") -> None:
    """Refuse non-http(s) URLs and hosts that resolve to private or reserved addresses (400,
    naming `field`: the webhook, or an MCP connector's URL, which pass the same check)."""
    if not is_http_url(url):
        raise InvalidRequest(f"{field} must be an absolute http(s) URL", field=field)
    if allow_private:
        return
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if port not in PUBLIC_PORTS:
        raise InvalidRequest(f"{field} must use port 80 or 443", field=field)
    try:
        addresses = await resolve(parsed.host, port)
    except OSError:
        raise InvalidRequest(f"{field} host does not resolve", field=field) from None
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise InvalidRequest(f"{field} points at a private or reserved address", field=field)


def _standard_webhooks_key(secret: str) -> bytes:
    """Standard Webhooks keys are the base64 part after `whsec_`; fall back to the raw bytes."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def infrence_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`: the timestamp is signed too,
    so a captured delivery cannot be replayed later (receivers refuse ones older than 5 min)."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_headers(secret: str, delivery_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Both schemes: `X-Infrence-Signature` (+ `X-Infrence-Timestamp`) and Standard Webhooks."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    standard = base64.b64encode(hmac.new(_standard_webhooks_key(secret), signed, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Infrence-Webhooks/1",
        "X-Infrence-Signature": infrence_signature(secret, timestamp, body),
        "X-Infrence-Timestamp": str(timestamp),
        "X-Infrence-Delivery": delivery_id,
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{standard.decode()}",
    }


def next_backoff(attempts: int, first_secs: float) -> timedelta:
    """first, 2x, 4x ... capped at an hour; deliveries give up 24 h after the job ended."""
    return min(timedelta(seconds=first_secs * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class WebhookRepository:
    async def enqueue(self, tx: AsyncConnection, job_id: UUID, extension: int, url: str, body: str) -> None:
        """One delivery per job and round (0: its first run, n: its nth extension): a settlement
        retried delivers nothing twice, an extension's new result is delivered again."""
        await tx.execute(
            "INSERT INTO webhook_deliveries (job_id, extension, url, body) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (job_id, extension) DO NOTHING",
            (job_id, extension, url, body),
        )

    async def claim_due(self, tx: AsyncConnection, limit: int) -> list[dict]:
        """Due deliveries with their account's id; pushed forward so no other sender takes them."""
        cur = await tx.execute(
            """
            WITH due AS (
                SELECT d.id FROM webhook_deliveries d
                WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                ORDER BY d.next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_deliveries d SET next_attempt_at = now() + interval '60 seconds'
            FROM due, research_jobs j, users u
            WHERE d.id = due.id AND j.id = d.job_id AND u.id = j.user_id
            RETURNING d.id, d.url, d.body, d.attempts, d.give_up_at, u.id AS user_id
            """,
            (limit,),
        )
        return await cur.fetchall()

    async def record(
        self,
        conn: AsyncConnection,
        delivery_id: UUID,
        *,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        backoff: timedelta,
    ) -> None:
        await conn.execute(
            """
            UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = %(code)s,
                last_error = %(error)s,
                status = CASE WHEN %(delivered)s THEN 'delivered'
                              WHEN now() + %(backoff)s > give_up_at THEN 'failed' ELSE 'pending' END,
                delivered_at = CASE WHEN %(delivered)s THEN now() END,
                next_attempt_at = now() + %(backoff)s
            WHERE id = %(id)s
            """,
            {
                "id": delivery_id,
                "code": status_code,
                "error": error,
                "delivered": delivered,
                "backoff": backoff,
            },
        )


class WebhookSender:
    """Posts due deliveries; one loop per process is plenty (each post is bounded by 10 s)."""

    def __init__(self, db: Database, settings: Settings, *, poll_secs: float = 1.0):
        self.db = db
        self.repo = WebhookRepository()
        self.secrets = WebhookSecrets(db, settings)
        self.allow_private = settings.allow_private_urls
        self.first_backoff_secs = settings.webhook_retry_first_secs
        self.poll_secs = poll_secs
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        async with guarded_client(
            allow_private=self.allow_private, timeout=DELIVERY_TIMEOUT_SECS, follow_redirects=False
        ) as http:
            while not stop.is_set():
                try:
                    sent = await self.deliver_due(http)
                except Exception as exc:  # database blips: try again on the next tick
                    log.warning("webhook sender: %s", type(exc).__name__)
                    sent = 0
                if not sent:
                    try:
                        await asyncio.wait_for(self.wake.wait(), self.poll_secs)
                    except TimeoutError:
                        pass
                    self.wake.clear()

    async def deliver_due(self, http: httpx.AsyncClient, limit: int = 20) -> int:
        async with self.db.transaction() as tx:
            due = await self.repo.claim_due(tx, limit)
        await asyncio.gather(*(self._deliver(http, row) for row in due))
        return len(due)

    async def _deliver(self, http: httpx.AsyncClient, row: dict) -> None:
        body = row["body"].encode()
        status_code, error = None, None
        try:
            secret = await self.secrets.for_user(row["user_id"])
            headers = signature_headers(secret, str(row["id"]), body, int(time.time()))
            response = await http.post(row["url"], content=body, headers=headers)
            status_code = response.status_code
            delivered = 200 <= status_code < 300
            if not delivered:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            delivered, error = False, f"{type(exc).__name__}: {exc}"[:500]
        except UnreadableSecret:  # a key left the rotation too early: retried once it is back
            delivered, error = False, "the account's webhook secret opens with no configured key"
        async with self.db.connection() as conn:
            await self.repo.record(
                conn,
                row["id"],
                delivered=delivered,
                status_code=status_code,
                error=error,
                backoff=next_backoff(row["attempts"] + 1, self.first_backoff_secs),
            )
        metrics.record_webhook_delivery(delivered)
        if not delivered:
            log.info("webhook delivery %s failed (attempt %d): %s", row["id"], row["attempts"] + 1, error)

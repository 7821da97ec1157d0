"""Verify a research webhook before trusting its body.

Infrence signs every delivery twice: the Standard Webhooks headers (`webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
by the base64 part of your `whsec_` secret), and `X-Infrence-Signature: sha256=<hex HMAC-SHA256>`
keyed by the whole secret — of `"{timestamp}.{body}"` when `X-Infrence-Timestamp` is sent, of the
raw body otherwise. Either valid signature is enough; timestamps older than `tolerance` seconds
are refused (replays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from infrence_client.errors import InfrenceError

DEFAULT_TOLERANCE_SECS = 300


class WebhookVerificationError(InfrenceError):
    """The body was not signed with your secret, or the signature is too old."""


def _standard_key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def _check_age(timestamp: str, tolerance: float, now: float) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook timestamp is not a number") from None
    if abs(now - sent) > tolerance:
        raise WebhookVerificationError("webhook timestamp is outside the tolerance (a replay?)")


def _standard_valid(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()).decode()
    offered = [sig.partition(",")[2] for sig in headers["webhook-signature"].split() if sig.startswith("v1,")]
    return any(hmac.compare_digest(expected, sig) for sig in offered)


def _infrence_valid(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    timestamp = headers.get("x-infrence-timestamp")
    signed = f"{timestamp}.".encode() + body if timestamp else body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-infrence-signature"].strip())


def verify_webhook(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECS,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivered `ResearchResult` as a dict, once a signature checks out; else raise
    `WebhookVerificationError`. Pass the raw body exactly as received."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    lower = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    if {"webhook-id", "webhook-timestamp", "webhook-signature"} <= lower.keys():
        _check_age(lower["webhook-timestamp"], tolerance, now)
        if _standard_valid(raw, lower, secret):
            return json.loads(raw)
    if "x-infrence-signature" in lower:
        if "x-infrence-timestamp" in lower:
            _check_age(lower["x-infrence-timestamp"], tolerance, now)
        if _infrence_valid(raw, lower, secret):
            return json.loads(raw)
    raise WebhookVerificationError("no valid Infrence or Standard Webhooks signature")

"""Each account's webhook signing secret (`whsec_...`), kept sealed in `users.webhook_secret`
(see `core/secret_box.py`) and opened only to sign a delivery or to show it to its owner. An
account gets its secret the first time one is needed."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from uuid import UUID

from auth.repository import AccountRepository
from core.db import Database
from core.secret_box import SecretBox, secret_box
from core.settings import Settings

log = logging.getLogger(__name__)

RESEAL_BATCH = 500


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_hex(32)


@dataclass
class ResealReport:
    resealed: int = 0
    unchanged: int = 0


class WebhookSecrets:
    def __init__(self, db: Database, settings: Settings, repository: AccountRepository | None = None):
        self.db = db
        self.box: SecretBox = secret_box(settings)
        self.users = repository or AccountRepository()

    async def for_user(self, user_id: UUID) -> str:
        """The account's secret in clear, made (and stored sealed) on first use."""
        async with self.db.connection() as conn:
            stored = await self.users.webhook_secret(conn, user_id)
            if stored is None:
                sealed = self.box.seal(new_webhook_secret())
                await self.users.set_webhook_secret(conn, user_id, sealed, only_if_missing=True)
                stored = await self.users.webhook_secret(conn, user_id)
        return self.box.open(stored)

    async def rotate(self, user_id: UUID) -> str:
        secret = new_webhook_secret()
        async with self.db.connection() as conn:
            await self.users.set_webhook_secret(conn, user_id, self.box.seal(secret))
        return secret

    async def reseal(self, *, clear_only: bool = False) -> ResealReport:
        """Seal every stored secret under the current key: after a key rotation (then drop the
        old key from INFRENCE_SECRET_KEY_PREVIOUS), or with `clear_only` for values stored
        before encryption (every API start runs that)."""
        report, after = ResealReport(), UUID(int=0)
        while True:
            async with self.db.connection() as conn:
                page = await self.users.webhook_secrets_page(
                    conn, after=after, clear_only=clear_only, limit=RESEAL_BATCH
                )
                for row in page:
                    sealed = self.box.reseal(row["webhook_secret"])
                    if sealed is not None and await self.users.reseal_webhook_secret(
                        conn, row["id"], stored=row["webhook_secret"], sealed=sealed
                    ):
                        report.resealed += 1
                    else:
                        report.unchanged += 1
            if len(page) < RESEAL_BATCH:
                break
            after = page[-1]["id"]
        if report.resealed:
            log.info("webhook secrets resealed under the current key: %d", report.resealed)
        return report

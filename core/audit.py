"""The admin audit log's one owner: every admin action that changes something is one row of
`admin_audit_log`, written in the transaction of the change. Admin, ledger and billing all write
through `AuditLog`, which is why it lives in the kernel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import class_row

from core.db import Tx

INSERT_SQL = """
INSERT INTO admin_audit_log (admin_id, action, target_type, target_id, payload)
VALUES (%(admin_id)s, %(action)s, %(target_type)s, %(target_id)s, %(payload)s::jsonb)"""

PAGE_SQL = """
SELECT id, admin_id, action, target_type, target_id, payload, created_at FROM admin_audit_log
WHERE (%(target_type)s::text IS NULL OR target_type = %(target_type)s)
  AND (%(target_id)s::text IS NULL OR target_id = %(target_id)s)
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s"""


@dataclass(frozen=True)
class AuditEntry:
    id: UUID
    admin_id: UUID
    action: str
    target_type: str
    target_id: str
    payload: dict[str, Any]
    created_at: datetime


class AuditLog:
    async def record(
        self,
        conn: Tx,
        *,
        admin_id: UUID,
        action: str,
        target_type: str,
        target_id: object,
        payload: dict[str, Any] | None = None,
    ) -> None:
        await conn.execute(
            INSERT_SQL,
            {
                "admin_id": admin_id,
                "action": action,
                "target_type": target_type,
                "target_id": str(target_id),
                "payload": json.dumps(payload or {}),
            },
        )

    async def page(
        self, conn: Tx, *, target_type: str | None, target_id: str | None, limit: int, offset: int
    ) -> list[AuditEntry]:
        """Newest first, optionally of one target."""
        cur = conn.cursor(row_factory=class_row(AuditEntry))
        await cur.execute(
            PAGE_SQL, {"target_type": target_type, "target_id": target_id, "limit": limit, "offset": offset}
        )
        return await cur.fetchall()

"""SQL for the credits ledger: balance changes and their ledger rows, each one statement.

A posting is a single statement (CTE) that moves the balance and appends the ledger row, so
in autocommit it is its own transaction and costs one round trip. The `existing` CTE makes a
sequential retry of an idempotency key a read; two concurrent first attempts are settled by
the UNIQUE index on `idempotency_key` (the loser gets a UniqueViolation, see the service).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from core.db import Tx
from ledger.buckets import Buckets

IDEMPOTENCY_CONSTRAINT = "credit_ledger_idempotency_key_key"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One row of `credit_ledger`: a balance change, how it moved the plan and overage
    buckets, and the balance it left."""

    id: UUID
    user_id: UUID
    delta: int
    plan_delta: int
    overage_delta: int
    balance_after: int
    kind: str
    related_id: str | None
    note: str | None
    idempotency_key: str | None
    seq: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Posting:
    """A balance change to write: `delta` credits (positive credits the account), of which
    `plan_delta` are plan credits; `overage_delta` moves the overage drawn this period."""

    user_id: UUID
    delta: int
    kind: str
    idempotency_key: str
    related_id: str | None = None
    note: str | None = None
    plan_delta: int = 0
    overage_delta: int = 0


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """One account whose ledger does not explain its balance."""

    user_id: UUID
    balance: int
    ledger_sum: int
    broken_links: int  # rows whose balance_after != previous balance_after + delta
    plan_credits: int = 0
    ledger_plan_sum: int = 0
    overage_credits: int = 0
    ledger_overage_sum: int = 0
    broken_buckets: int = 0  # rows after which plan credits were < 0 or > the balance, or overage < 0


_EXISTING = "existing AS (SELECT * FROM credit_ledger WHERE idempotency_key = %(idempotency_key)s)"

_APPEND_AND_ANSWER = """
, entry AS (
    INSERT INTO credit_ledger (user_id, delta, plan_delta, overage_delta, balance_after, kind, related_id,
                               note, idempotency_key)
    SELECT user_id, %(delta)s, %(plan_delta)s, %(overage_delta)s, balance, %(kind)s, %(related_id)s, %(note)s,
           %(idempotency_key)s
    FROM account
    RETURNING *
)
SELECT *, true AS created FROM entry
UNION ALL
SELECT *, false AS created FROM existing
"""

# Credit: create the account on first use (only for an existing user), else add to it.
CREDIT_SQL = (
    f"""
WITH {_EXISTING}, account AS (
    INSERT INTO credit_accounts AS a (user_id, balance, plan_credits)
    SELECT u.id, %(delta)s, %(plan_delta)s FROM users u
    WHERE u.id = %(user_id)s AND NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (user_id) DO UPDATE SET balance = a.balance + EXCLUDED.balance,
        plan_credits = a.plan_credits + EXCLUDED.plan_credits, updated_at = now()
    RETURNING a.user_id, a.balance
)"""
    + _APPEND_AND_ANSWER
)

# Any change to an existing account: the conditional UPDATE of docs/design.md ("Ledger rules")
# — no row when the balance cannot cover a debit. Bucket splits are decided on the locked row.
POST_SQL = (
    f"""
WITH {_EXISTING}, account AS (
    UPDATE credit_accounts SET balance = balance + %(delta)s, plan_credits = plan_credits + %(plan_delta)s,
        overage_credits = overage_credits + %(overage_delta)s, updated_at = now()
    WHERE user_id = %(user_id)s AND balance + %(delta)s >= 0 AND NOT EXISTS (SELECT 1 FROM existing)
    RETURNING user_id, balance
)"""
    + _APPEND_AND_ANSWER
)


# A split decided in SQL is applied only to the row version it was decided on: `account`
# updates where `xmin` (the row version) is still the one read, which a concurrent writer's
# commit changes (READ COMMITTED re-checks the condition on the newest version). Otherwise the
# statement writes nothing and answers `stale`; `LedgerService.on_account` then runs it again
# after LOCK_BUCKETS_SQL in a transaction, where the snapshot is the newest version. So the common,
# uncontended change is one statement and one round trip, and a contended one stays exact.
_APPLY_MOVE = """account AS (
    UPDATE credit_accounts AS a SET balance = a.balance + m.delta, plan_credits = a.plan_credits + m.plan_delta,
        overage_credits = a.overage_credits + m.overage_delta, updated_at = now()
    FROM move m WHERE a.user_id = m.user_id AND a.xmin = m.version
    RETURNING a.user_id, a.balance, m.delta, m.plan_delta, m.overage_delta,
              a.auto_topup_enabled, a.auto_topup_threshold
)"""

# Answers: the new entry (created), the one already holding the key, or, when the account
# changed under the split, a row of nulls marked `stale`. No row: nothing to move or no cover.
_ANSWER = """
SELECT *, true AS created, false AS stale FROM entry
UNION ALL
SELECT *, false AS created, false AS stale FROM existing
UNION ALL
SELECT (NULL::credit_ledger).*, false AS created, true AS stale
WHERE EXISTS (SELECT 1 FROM move) AND NOT EXISTS (SELECT 1 FROM account)
"""


def reserve_ctes(*, guard: str = "true") -> str:
    """`WITH`-list items that reserve `%(credits)s` on `%(user_id)s`'s account: `move` splits
    the debit as `ledger.buckets.draw` does — plan credits first, then purchased ones, then
    overage up to the cap — and has no row when that cannot cover it; `account` writes it (see
    `_APPLY_MOVE`) and answers the balance it left, with the move. `guard` must hold for
    anything to happen (e.g. no earlier entry for the key)."""
    return f"""held AS (
    SELECT user_id, xmin AS version, plan_credits, balance - plan_credits AS purchased_credits,
           greatest(0, overage_cap - overage_credits) AS overage_room
    FROM credit_accounts WHERE user_id = %(user_id)s AND {guard}
), from_plan AS (
    SELECT *, least(plan_credits, %(credits)s) AS plan FROM held
), drawn AS (
    SELECT user_id, version, plan, least(purchased_credits, %(credits)s - plan) AS purchased, overage_room
    FROM from_plan
), move AS (
    SELECT user_id, version, -(plan + purchased) AS delta, -plan AS plan_delta,
           %(credits)s - plan - purchased AS overage_delta
    FROM drawn WHERE %(credits)s - plan - purchased <= overage_room
), {_APPLY_MOVE}"""


def entry_cte(
    kind: str,
    *,
    source: str = "account",
    related_id: str = "%(related_id)s",
    key: str = "%(idempotency_key)s",
) -> str:
    """The `entry` item: the ledger row of the move `account` wrote (`source` may join more,
    for `related_id` and `key`, SQL expressions)."""
    return f"""entry AS (
    INSERT INTO credit_ledger (user_id, delta, plan_delta, overage_delta, balance_after, kind, related_id,
                               note, idempotency_key)
    SELECT account.user_id, account.delta, account.plan_delta, account.overage_delta, account.balance, '{kind}',
           {related_id}, %(note)s, {key}
    FROM {source}
    RETURNING *
)"""


# A reservation: the entry already holding the key, else the split and its ledger row.
RESERVE_SQL = f"""
WITH {_EXISTING}, {reserve_ctes(guard="NOT EXISTS (SELECT 1 FROM existing)")}, {entry_cte("reserve")}
{_ANSWER}"""

# The unused part of a reservation back to the buckets it came from, as `ledger.buckets.give_back`
# decides: overage first, then purchased, then plan credits unless a plan expiry came after the
# reservation (an expiry changes the account row, so a stale read of it cannot go unnoticed);
# with no reservation, purchased credits.
RELEASE_SQL = f"""
WITH {_EXISTING}, buckets AS (
    SELECT user_id, xmin AS version, overage_credits FROM credit_accounts
    WHERE user_id = %(user_id)s AND NOT EXISTS (SELECT 1 FROM existing)
), reserved AS (
    SELECT coalesce(max(-plan_delta), 0) AS plan, coalesce(max(plan_delta - delta), 0) AS purchased,
           coalesce(max(overage_delta), 0) AS overage, count(*) = 0 AS missing,
           coalesce(bool_or(seq < (SELECT max(seq) FROM credit_ledger
                                   WHERE user_id = %(user_id)s AND kind = 'plan_expiry')), false) AS plan_expired
    FROM credit_ledger WHERE idempotency_key = %(reservation_key)s
), to_overage AS (
    SELECT *, CASE WHEN missing THEN 0 ELSE least(%(credits)s, overage) END AS o FROM reserved
), to_plan AS (
    SELECT *, CASE WHEN missing THEN 0
                   ELSE least(%(credits)s - o - least(%(credits)s - o, purchased), plan) END AS p
    FROM to_overage
), split AS (
    SELECT b.user_id, b.version, (%(credits)s - t.o - t.p) + CASE WHEN t.plan_expired THEN 0 ELSE t.p END AS delta,
           CASE WHEN t.plan_expired THEN 0 ELSE t.p END AS plan_delta,
           -least(t.o, b.overage_credits) AS overage_delta
    FROM buckets b, to_plan t
), move AS (
    SELECT * FROM split WHERE delta <> 0 OR plan_delta <> 0 OR overage_delta <> 0
), {_APPLY_MOVE}, {entry_cte("release")}
{_ANSWER}"""

BY_KEY_SQL = "SELECT * FROM credit_ledger WHERE idempotency_key = %(idempotency_key)s"

BALANCE_SQL = "SELECT balance FROM credit_accounts WHERE user_id = %(user_id)s"

BUCKETS_SQL = """
SELECT balance, plan_credits, overage_credits, overage_cap FROM credit_accounts WHERE user_id = %(user_id)s
"""

LOCK_BUCKETS_SQL = BUCKETS_SQL + " FOR UPDATE"

SET_OVERAGE_CAP_SQL = """
UPDATE credit_accounts SET overage_cap = %(cap)s, updated_at = now() WHERE user_id = %(user_id)s
"""

USER_EXISTS_SQL = "SELECT 1 FROM users WHERE id = %(user_id)s"

ENTRIES_SQL = """
SELECT * FROM credit_ledger WHERE user_id = %(user_id)s
ORDER BY seq DESC LIMIT %(limit)s OFFSET %(offset)s
"""

# Every account whose ledger does not explain it: a running sum that disagrees with a
# balance_after, a final sum that disagrees with the stored balance, plan credits or overage,
# or a row after which the plan bucket was negative or larger than the balance, or overage
# negative. Accounts start at 0.
CHECK_SQL = """
WITH chain AS (
    SELECT user_id, delta, plan_delta, overage_delta, balance_after,
           sum(delta) OVER w AS running,
           sum(plan_delta) OVER w AS running_plan,
           sum(overage_delta) OVER w AS running_overage
    FROM credit_ledger
    WINDOW w AS (PARTITION BY user_id ORDER BY seq)
), per_user AS (
    SELECT user_id, sum(delta) AS ledger_sum, sum(plan_delta) AS plan_sum, sum(overage_delta) AS overage_sum,
           count(*) FILTER (WHERE running <> balance_after) AS broken_links,
           count(*) FILTER (WHERE running_plan < 0 OR running_plan > running OR running_overage < 0)
               AS broken_buckets
    FROM chain GROUP BY user_id
)
SELECT a.user_id, a.balance, coalesce(p.ledger_sum, 0)::bigint AS ledger_sum,
       coalesce(p.broken_links, 0)::bigint AS broken_links,
       a.plan_credits, coalesce(p.plan_sum, 0)::bigint AS ledger_plan_sum,
       a.overage_credits, coalesce(p.overage_sum, 0)::bigint AS ledger_overage_sum,
       coalesce(p.broken_buckets, 0)::bigint AS broken_buckets
FROM credit_accounts a LEFT JOIN per_user p USING (user_id)
WHERE a.balance <> coalesce(p.ledger_sum, 0) OR coalesce(p.broken_links, 0) > 0
   OR a.plan_credits <> coalesce(p.plan_sum, 0) OR a.overage_credits <> coalesce(p.overage_sum, 0)
   OR coalesce(p.broken_buckets, 0) > 0
ORDER BY a.user_id
"""

COUNT_ACCOUNTS_SQL = (
    "SELECT count(*) AS accounts, (SELECT count(*) FROM credit_ledger) AS entries FROM credit_accounts"
)

OPEN_ACCOUNT = "INSERT INTO credit_accounts (user_id) VALUES (%(user_id)s) ON CONFLICT DO NOTHING"


class Stale(enum.Enum):
    """The account row changed between reading it and writing the split decided on it."""

    STALE = "stale"


STALE = Stale.STALE


def _entry(row: dict) -> LedgerEntry:
    return LedgerEntry(**{k: v for k, v in row.items() if k not in ("created", "stale")})


class LedgerRepository:
    """Named SQL for the ledger; every method runs on the connection it is given."""

    async def open_account(self, conn: Tx, user_id: UUID) -> None:
        await conn.execute(OPEN_ACCOUNT, {"user_id": user_id})

    async def post_credit(self, conn: Tx, posting: Posting) -> tuple[LedgerEntry, bool] | None:
        """The new entry (created=True), the entry already holding the key (False), or None
        when the user does not exist."""
        return await self._post(conn, CREDIT_SQL, posting)

    async def post(self, conn: Tx, posting: Posting) -> tuple[LedgerEntry, bool] | None:
        """As `post_credit` for an existing account; None when the balance cannot cover a debit
        (or there is no account)."""
        return await self._post(conn, POST_SQL, posting)

    async def _post(self, conn: Tx, statement: str, posting: Posting) -> tuple[LedgerEntry, bool] | None:
        cur = await conn.execute(
            statement,
            {
                "user_id": posting.user_id,
                "delta": posting.delta,
                "kind": posting.kind,
                "related_id": posting.related_id,
                "note": posting.note,
                "idempotency_key": posting.idempotency_key,
                "plan_delta": posting.plan_delta,
                "overage_delta": posting.overage_delta,
            },
        )
        row = await cur.fetchone()
        return None if row is None else (_entry(row), row["created"])

    async def reserve(
        self,
        conn: Tx,
        user_id: UUID,
        credits: int,
        *,
        idempotency_key: str,
        related_id: str | None,
        note: str | None,
    ) -> tuple[LedgerEntry, bool] | Stale | None:
        """The new reservation (created=True), the entry already holding the key (False), None
        when the account cannot cover it (or there is none), or STALE: the account changed
        while the split was decided (see `LedgerService.on_account`)."""
        params = {
            "credits": credits,
            "idempotency_key": idempotency_key,
            "related_id": related_id,
            "note": note,
        }
        return await self._change(conn, user_id, RESERVE_SQL, params)

    async def release(
        self,
        conn: Tx,
        user_id: UUID,
        credits: int,
        *,
        idempotency_key: str,
        reservation_key: str,
        related_id: str | None,
        note: str | None,
    ) -> tuple[LedgerEntry, bool] | Stale | None:
        """As `reserve`, giving back; None when nothing moves or there is no account."""
        params = {
            "credits": credits,
            "idempotency_key": idempotency_key,
            "reservation_key": reservation_key,
            "related_id": related_id,
            "note": note,
        }
        return await self._change(conn, user_id, RELEASE_SQL, params)

    async def _change(
        self, conn: Tx, user_id: UUID, statement: str, params: dict
    ) -> tuple[LedgerEntry, bool] | Stale | None:
        cur = await conn.execute(statement, {"user_id": user_id, **params})
        row = await cur.fetchone()
        if row is not None and row["stale"]:
            return STALE
        return None if row is None else (_entry(row), row["created"])

    async def by_key(self, conn: Tx, idempotency_key: str) -> LedgerEntry | None:
        cur = await conn.execute(BY_KEY_SQL, {"idempotency_key": idempotency_key})
        row = await cur.fetchone()
        return None if row is None else _entry(row)

    async def balance(self, conn: Tx, user_id: UUID) -> int:
        cur = await conn.execute(BALANCE_SQL, {"user_id": user_id})
        row = await cur.fetchone()
        return 0 if row is None else row["balance"]

    async def buckets(self, conn: Tx, user_id: UUID) -> Buckets | None:
        cur = await conn.execute(BUCKETS_SQL, {"user_id": user_id})
        row = await cur.fetchone()
        return None if row is None else Buckets(**row)

    async def lock_buckets(self, conn: Tx, user_id: UUID) -> Buckets | None:
        """The account's buckets, its row locked until the transaction ends (None: no account),
        so that a split decided on them still holds when the posting is written."""
        cur = await conn.execute(LOCK_BUCKETS_SQL, {"user_id": user_id})
        row = await cur.fetchone()
        return None if row is None else Buckets(**row)

    async def set_overage_cap(self, conn: Tx, user_id: UUID, cap: int) -> None:
        await conn.execute(SET_OVERAGE_CAP_SQL, {"user_id": user_id, "cap": cap})

    async def user_exists(self, conn: Tx, user_id: UUID) -> bool:
        cur = await conn.execute(USER_EXISTS_SQL, {"user_id": user_id})
        return await cur.fetchone() is not None

    async def entries(self, conn: Tx, user_id: UUID, *, limit: int, offset: int) -> list[LedgerEntry]:
        """Newest first."""
        cur = await conn.execute(ENTRIES_SQL, {"user_id": user_id, "limit": limit, "offset": offset})
        return [_entry(row) for row in await cur.fetchall()]

    async def inconsistent_accounts(self, conn: Tx) -> list[AccountCheck]:
        cur = await conn.execute(CHECK_SQL)
        return [AccountCheck(**row) for row in await cur.fetchall()]

    async def counts(self, conn: Tx) -> tuple[int, int]:
        """(accounts, ledger entries)."""
        cur = await conn.execute(COUNT_ACCOUNTS_SQL)
        row = await cur.fetchone()
        return row["accounts"], row["entries"]

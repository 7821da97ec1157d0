"""The credits ledger: every balance change is one transaction and one append-only row.

Rules (docs/design.md, "Ledger rules"):
- Each method moves `credit_accounts.balance` and appends exactly one `credit_ledger` row with
  `balance_after`, atomically. Debits are conditional (`WHERE balance >= x`), so no
  read-then-write race can take a balance below zero.
- Idempotency: every change carries a key, unique in the ledger. Calling again with a key
  already used returns the first entry and writes nothing — if the call asks for the same
  thing (same user, kind and amount; for a clawback, an amount at least what was taken).
  A key reused for anything else raises `Conflict`: a retry must never silently stand in
  for a different change.
- `tx`: pass the caller's open transaction to compose (e.g. job insert + reservation). The
  change then runs in a savepoint on it, so a replayed key does not abort the caller's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from psycopg.errors import UniqueViolation

from core.db import Database, Tx
from core.errors import Conflict, InsufficientCredits, InvalidRequest, NotFound
from ledger.repository import IDEMPOTENCY_CONSTRAINT, LedgerEntry, LedgerRepository, Posting

GRANT_KINDS = frozenset({"signup_grant", "purchase", "subscription_grant", "auto_topup"})


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


def _positive(credits: int) -> int:
    if isinstance(credits, bool) or not isinstance(credits, int) or credits <= 0:
        raise ValueError(f"credits must be a positive integer, got {credits!r}")
    return credits


class LedgerService:
    def __init__(self, db: Database, repository: LedgerRepository | None = None):
        self.db = db
        self.repo = repository or LedgerRepository()

    # -- balance changes -----------------------------------------------------------------

    async def open_account(self, user_id: UUID, *, tx: Tx) -> None:
        """An empty credit account for a new user, in the caller's transaction."""
        await self.repo.open_account(tx, user_id)

    async def grant(
        self,
        user_id: UUID | str,
        credits: int,
        *,
        kind: str,
        idempotency_key: str,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry:
        """Credits from outside (signup, purchase, plan, top-up). Unknown user -> NotFound."""
        if kind not in GRANT_KINDS:
            raise ValueError(f"grant kind must be one of {sorted(GRANT_KINDS)}, got {kind!r}")
        return await self._credit(
            Posting(_uuid(user_id), _positive(credits), kind, idempotency_key, _text(related_id), note), tx
        )

    async def reserve(
        self,
        user_id: UUID | str,
        credits: int,
        *,
        idempotency_key: str,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry:
        """Debit up front what a job may cost; InsufficientCredits (402) when the balance
        cannot cover it."""
        posting = Posting(
            _uuid(user_id), -_positive(credits), "reserve", idempotency_key, _text(related_id), note
        )
        entry = await self._post(posting, tx, debit=True)
        if entry is None:
            raise InsufficientCredits(f"This needs {credits} credits; the balance is lower")
        return entry

    async def release(
        self,
        user_id: UUID | str,
        credits: int,
        *,
        idempotency_key: str,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry | None:
        """Give back the unused part of a reservation; 0 credits writes nothing (None)."""
        if credits == 0:
            return None
        return await self._credit(
            Posting(_uuid(user_id), _positive(credits), "release", idempotency_key, _text(related_id), note),
            tx,
        )

    async def settle(
        self, user_id: UUID | str, *, reserved: int, charged: int, job_id: object, tx: Tx | None = None
    ) -> LedgerEntry | None:
        """End a job's reservation: `charged` stays debited, the rest is released once
        (key `job:{id}:release`). None when the whole reservation was charged."""
        if not 0 <= charged <= reserved:
            raise ValueError(f"charged must be within 0..{reserved}, got {charged}")
        return await self.release(
            user_id,
            reserved - charged,
            idempotency_key=f"job:{job_id}:release",
            related_id=job_id,
            note=f"charged {charged} of {reserved}",
            tx=tx,
        )

    async def refund(
        self,
        user_id: UUID | str,
        credits: int,
        *,
        idempotency_key: str,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry:
        """Give back credits already charged (its own row, never an edit of the charge)."""
        return await self._credit(
            Posting(_uuid(user_id), _positive(credits), "refund", idempotency_key, _text(related_id), note),
            tx,
        )

    async def clawback(
        self,
        user_id: UUID | str,
        credits: int,
        *,
        idempotency_key: str,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry | None:
        """Take back up to `credits` (a refunded or disputed payment) without going below
        zero; the entry's delta records what was taken. None when the balance is 0."""
        requested, user = _positive(credits), _uuid(user_id)
        try:
            async with self._unit(tx) as conn:
                available = await self.repo.lock_balance(conn, user)
                entry = await self.repo.by_key(conn, idempotency_key)
                if entry is None:
                    if available == 0:
                        return None
                    posting = Posting(
                        user, -min(requested, available), "clawback", idempotency_key, _text(related_id), note
                    )
                    entry, created = await self.repo.post_debit(conn, posting)  # covered: row locked
                    if created:
                        return entry
        except UniqueViolation as exc:
            entry = await self._after_lost_race(exc, idempotency_key, tx)
        return self._replayed(entry, user, "clawback", -requested)

    async def adjust(
        self,
        user_id: UUID | str,
        delta: int,
        *,
        idempotency_key: str,
        note: str,
        admin_id: UUID | str,
        tx: Tx | None = None,
    ) -> LedgerEntry:
        """An admin's correction, either way, with an audit row. Unknown user -> NotFound;
        a debit below zero -> InvalidRequest."""
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise InvalidRequest("delta_credits must be a non-zero integer", field="delta_credits")
        if not note or not note.strip():
            raise InvalidRequest("note must not be empty", field="note")
        user, admin = _uuid(user_id), _uuid(admin_id)
        posting = Posting(user, delta, "admin_adjust", idempotency_key, None, note.strip())
        try:
            async with self._unit(tx) as conn:
                if not await self.repo.user_exists(conn, user):
                    raise NotFound("User not found")
                post = self.repo.post_debit if delta < 0 else self.repo.post_credit
                result = await post(conn, posting)
                if result is None:
                    raise InvalidRequest(
                        "This debit would take the balance below zero", field="delta_credits"
                    )
                entry, created = result
                if created:
                    await self.repo.audit(
                        conn,
                        admin_id=admin,
                        action="credits.adjust",
                        target_id=user,
                        payload={
                            "delta_credits": delta,
                            "note": posting.note,
                            "idempotency_key": idempotency_key,
                            "ledger_entry_id": str(entry.id),
                            "balance_after": entry.balance_after,
                        },
                    )
        except UniqueViolation as exc:
            entry = await self._after_lost_race(exc, idempotency_key, tx)
        return self._replayed(entry, user, "admin_adjust", delta)

    # -- reads ----------------------------------------------------------------------------

    async def balance(self, user_id: UUID | str) -> int:
        async with self.db.connection() as conn:
            return await self.repo.balance(conn, _uuid(user_id))

    async def entries(self, user_id: UUID | str, *, limit: int, offset: int) -> list[LedgerEntry]:
        """A user's ledger, newest first. Unknown user -> NotFound."""
        user = _uuid(user_id)
        async with self.db.connection() as conn:
            if not await self.repo.user_exists(conn, user):
                raise NotFound("User not found")
            return await self.repo.entries(conn, user, limit=limit, offset=offset)

    # -- the one write path ---------------------------------------------------------------

    async def _credit(self, posting: Posting, tx: Tx | None) -> LedgerEntry:
        entry = await self._post(posting, tx, debit=False)
        if entry is None:
            raise NotFound("User not found")
        return entry

    async def _post(self, posting: Posting, tx: Tx | None, *, debit: bool) -> LedgerEntry | None:
        """Write the posting in one statement; None when a debit is not covered (or a
        credit's user does not exist)."""
        post = self.repo.post_debit if debit else self.repo.post_credit
        try:
            async with self._unit(tx, single_statement=True) as conn:
                result = await post(conn, posting)
        except UniqueViolation as exc:
            result = (await self._after_lost_race(exc, posting.idempotency_key, tx), False)
        if result is None:
            return None
        entry, created = result
        if created:
            return entry
        return self._replayed(entry, posting.user_id, posting.kind, posting.delta)

    async def _after_lost_race(
        self, exc: UniqueViolation, idempotency_key: str, tx: Tx | None
    ) -> LedgerEntry:
        """A concurrent first attempt with the same key committed before ours: answer with it."""
        if exc.diag.constraint_name != IDEMPOTENCY_CONSTRAINT:
            raise exc
        async with self._unit(tx, single_statement=True) as conn:
            entry = await self.repo.by_key(conn, idempotency_key)
        if entry is None:  # pragma: no cover - the winner committed, so its row is visible
            raise exc
        return entry

    @staticmethod
    def _replayed(entry: LedgerEntry, user_id: UUID, kind: str, requested_delta: int) -> LedgerEntry:
        """The first entry for a key, if this call asks for the same change; else Conflict."""
        if kind == "clawback":
            same_amount = requested_delta <= entry.delta < 0
        else:
            same_amount = entry.delta == requested_delta
        if entry.user_id != user_id or entry.kind != kind or not same_amount:
            raise Conflict("This idempotency key was already used for a different credit change")
        return entry

    @asynccontextmanager
    async def _unit(self, tx: Tx | None, *, single_statement: bool = False) -> AsyncIterator[Tx]:
        """Where a change runs: a savepoint in the caller's transaction; else, for a single
        statement, an autocommit connection (the statement is its own transaction, one round
        trip); else a transaction of our own."""
        if tx is not None:
            async with tx.transaction():
                yield tx
        elif single_statement:
            async with self.db.connection() as conn:
                yield conn
        else:
            async with self.db.transaction() as conn:
                yield conn

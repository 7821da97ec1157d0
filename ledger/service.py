"""The credits ledger: every balance change is one transaction and one append-only row.

Rules (docs/design.md, "Ledger rules"):
- Each method moves `credit_accounts.balance` and appends exactly one `credit_ledger` row with
  `balance_after`, atomically. Debits are conditional (`WHERE balance >= x`), so no
  read-then-write race can take a balance below zero.
- Buckets (`ledger/buckets.py`): the row also says how it moved the plan credits and the
  overage drawn. A change whose split depends on the account decides it on the account row:
  a reservation or a release in one statement that writes only if the row is still the
  version it read (else again after locking it); a clawback or an expiry (rare) locks the
  row, decides in Python, then writes.
- Idempotency: every change carries a key, unique in the ledger. Calling again with a key
  already used returns the first entry and writes nothing — if the call asks for the same
  thing (same user, kind and amount; for a clawback, an amount at least what was taken).
  A key reused for anything else raises `Conflict`: a retry must never silently stand in
  for a different change.
- `tx`: pass the caller's open transaction to compose (e.g. job insert + reservation). The
  change then runs in a savepoint on it, so a replayed key does not abort the caller's work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TypeVar
from uuid import UUID

from psycopg.errors import UniqueViolation

from core.audit import AuditLog
from core.db import Database, Tx
from core.errors import Conflict, InsufficientCredits, InvalidRequest, NotFound
from ledger.buckets import Buckets, Move, take
from ledger.repository import IDEMPOTENCY_CONSTRAINT, STALE, LedgerEntry, LedgerRepository, Posting, Stale

# The accounts with a change under way in this process, each with the changes waiting a turn.
_turns: dict[UUID, deque[asyncio.Future]] = {}


class _Turn:
    """Concurrent changes to one account from one process (a client creating jobs from many
    connections) would mostly find the row changed under them and redo the change locked:
    five round trips, with the row lock held across three. Taking turns here keeps each to its
    one optimistic statement; other processes still meet the row check. Never taken inside a
    caller's transaction, which may hold locks a turn-holder waits on. Uncontended, a turn is
    one dict entry (no lock object: the ledger pair's overhead budget is 0.3 ms)."""

    __slots__ = ("user_id",)

    def __init__(self, user_id: UUID):
        self.user_id = user_id

    async def __aenter__(self) -> None:
        waiting = _turns.get(self.user_id)
        if waiting is None:
            _turns[self.user_id] = deque()
            return
        turn = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._pass_on()  # handed the turn as we were cancelled: give it to the next
            elif turn in waiting:  # (a turn passed on may already have dropped it)
                waiting.remove(turn)
            raise

    async def __aexit__(self, *_exc: object) -> None:
        self._pass_on()

    def _pass_on(self) -> None:
        waiting = _turns[self.user_id]
        while waiting:
            turn = waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del _turns[self.user_id]


GRANT_KINDS = frozenset({"signup_grant", "purchase", "subscription_grant", "auto_topup"})
PLAN_GRANT_KIND = "subscription_grant"  # the one kind that fills the plan bucket
# Kinds whose replay answers the first entry whatever amount it moved: the amount depends on
# the account at the time (what was left to expire, to reset, or to give back).
STATE_DEPENDENT_KINDS = frozenset({"plan_expiry", "overage_reset", "release"})

Split = Callable[[Tx, Buckets], Awaitable[Move | None]]
Change = tuple[LedgerEntry, bool] | Stale | None
T = TypeVar("T")


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
        self.audits = AuditLog()

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
        plan = credits if kind == PLAN_GRANT_KIND else 0
        posting = Posting(
            _uuid(user_id),
            _positive(credits),
            kind,
            idempotency_key,
            _text(related_id),
            note,
            plan_delta=plan,
        )
        return await self._credit(posting, tx)

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
        """Debit up front what a job may cost: plan credits first, then purchased ones, then
        (for a subscriber) overage up to the cap. InsufficientCredits (402) when all of them
        cannot cover it."""
        requested, user = _positive(credits), _uuid(user_id)

        def change(conn: Tx) -> Awaitable[Change]:
            return self.repo.reserve(
                conn,
                user,
                requested,
                idempotency_key=idempotency_key,
                related_id=_text(related_id),
                note=note,
            )

        result = await self._split_change(user, change, idempotency_key, tx)
        if result is None:
            raise InsufficientCredits(f"This needs {credits} credits; the balance is lower")
        return self._replayed(result[0], user, "reserve", requested)

    async def release(
        self,
        user_id: UUID | str,
        credits: int,
        *,
        idempotency_key: str,
        reservation_key: str | None = None,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry | None:
        """Give back the unused part of a reservation (the one written with `reservation_key`)
        to the buckets it came from, overage first. Plan credits that expired while reserved
        are not given back. None when nothing moves (0 credits, or only expired ones)."""
        if credits == 0:
            return None
        requested, user = _positive(credits), _uuid(user_id)

        def change(conn: Tx) -> Awaitable[Change]:
            return self.repo.release(
                conn,
                user,
                requested,
                idempotency_key=idempotency_key,
                reservation_key=reservation_key or "",
                related_id=_text(related_id),
                note=note,
            )

        result = await self._split_change(user, change, idempotency_key, tx)
        if result is None:
            return None
        return self._replayed(result[0], user, "release", requested)

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
            reservation_key=f"job:{job_id}:reserve",
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
        plan_first: bool = False,
        related_id: object | None = None,
        note: str | None = None,
        tx: Tx | None = None,
    ) -> LedgerEntry | None:
        """Take back up to `credits` (a refunded or disputed payment) without going below
        zero; the entry's delta records what was taken. A subscription invoice's clawback
        takes plan credits first (`plan_first`), a pack's purchased ones. None when the
        balance is 0."""
        requested, user = _positive(credits), _uuid(user_id)

        async def split(conn: Tx, buckets: Buckets) -> Move | None:
            move = take(buckets, requested, plan_first=plan_first)
            return None if move.moves_nothing else move

        entry = await self._post_split(user, "clawback", idempotency_key, related_id, note, split, tx)
        return None if entry is None else self._replayed(entry, user, "clawback", -requested)

    async def expire_plan_credits(
        self, user_id: UUID | str, *, idempotency_key: str, note: str, tx: Tx | None = None
    ) -> LedgerEntry | None:
        """The plan credits left at a period's end expire (one `plan_expiry` row); None when
        there are none."""
        user = _uuid(user_id)

        async def split(conn: Tx, buckets: Buckets) -> Move | None:
            return Move(plan=-buckets.plan_credits) if buckets.plan_credits else None

        entry = await self._post_split(user, "plan_expiry", idempotency_key, None, note, split, tx)
        return None if entry is None else self._replayed(entry, user, "plan_expiry", 0)

    async def reset_overage(
        self, user_id: UUID | str, *, idempotency_key: str, note: str, tx: Tx | None = None
    ) -> LedgerEntry | None:
        """A new period starts with no overage drawn (one `overage_reset` row; what was drawn
        is billed through the meter, job by job). None when there was none."""
        user = _uuid(user_id)

        async def split(conn: Tx, buckets: Buckets) -> Move | None:
            return Move(overage=-buckets.overage_credits) if buckets.overage_credits else None

        entry = await self._post_split(user, "overage_reset", idempotency_key, None, note, split, tx)
        return None if entry is None else self._replayed(entry, user, "overage_reset", 0)

    async def set_overage_cap(self, user_id: UUID | str, cap: int, *, tx: Tx) -> None:
        """How far beyond its buckets the account may draw this period (0: not at all)."""
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise ValueError(f"overage cap must be a non-negative integer, got {cap!r}")
        await self.repo.set_overage_cap(tx, _uuid(user_id), cap)

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
                if delta < 0:  # purchased credits first: plan credits expire anyway
                    buckets = await self.repo.lock_buckets(conn, user)
                    move = take(buckets, -delta, plan_first=False) if buckets else Move()
                    covered = move.delta == delta
                    posting = replace(posting, plan_delta=move.plan)
                    result = await self.repo.post(conn, posting) if covered else None
                else:
                    result = await self.repo.post_credit(conn, posting)
                if result is None:
                    raise InvalidRequest(
                        "This debit would take the balance below zero", field="delta_credits"
                    )
                entry, created = result
                if created:
                    await self.audits.record(
                        conn,
                        admin_id=admin,
                        action="credits.adjust",
                        target_type="user",
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

    async def buckets(self, user_id: UUID | str) -> Buckets:
        """The account's buckets (all 0 for a user without an account)."""
        async with self.db.connection() as conn:
            return await self.repo.buckets(conn, _uuid(user_id)) or Buckets(0, 0, 0, 0)

    async def entry(self, idempotency_key: str) -> LedgerEntry | None:
        """The entry written with this key, if any (e.g. a job's reservation)."""
        async with self.db.connection() as conn:
            return await self.repo.by_key(conn, idempotency_key)

    async def entries(self, user_id: UUID | str, *, limit: int, offset: int) -> list[LedgerEntry]:
        """A user's ledger, newest first. Unknown user -> NotFound."""
        user = _uuid(user_id)
        async with self.db.connection() as conn:
            if not await self.repo.user_exists(conn, user):
                raise NotFound("User not found")
            return await self.repo.entries(conn, user, limit=limit, offset=offset)

    # -- the one write path ---------------------------------------------------------------

    async def _credit(self, posting: Posting, tx: Tx | None) -> LedgerEntry:
        """Write a credit in one statement (creating the account on first use); NotFound when
        its user does not exist."""
        try:
            async with self._unit(tx, single_statement=True) as conn:
                result = await self.repo.post_credit(conn, posting)
        except UniqueViolation as exc:
            result = (await self._after_lost_race(exc, posting.idempotency_key, tx), False)
        if result is None:
            raise NotFound("User not found")
        entry, created = result
        if created:
            return entry
        return self._replayed(entry, posting.user_id, posting.kind, posting.delta)

    async def _post_split(
        self,
        user: UUID,
        kind: str,
        idempotency_key: str,
        related_id: object | None,
        note: str | None,
        split: Split,
        tx: Tx | None,
    ) -> LedgerEntry | None:
        """Lock the account, answer the entry already holding the key, or write the move
        `split` decides on the locked buckets. None when there is no account or no move."""
        try:
            async with self._unit(tx) as conn:
                buckets = await self.repo.lock_buckets(conn, user)
                entry = await self.repo.by_key(conn, idempotency_key)
                if entry is not None or buckets is None:
                    return entry
                move = await split(conn, buckets)
                if move is None:
                    return None
                posting = Posting(
                    user,
                    move.delta,
                    kind,
                    idempotency_key,
                    _text(related_id),
                    note,
                    plan_delta=move.plan,
                    overage_delta=move.overage,
                )
                result = await self.repo.post(conn, posting)  # covered: the row is locked
                return None if result is None else result[0]
        except UniqueViolation as exc:
            return await self._after_lost_race(exc, idempotency_key, tx)

    async def on_account(
        self, user_id: UUID, change: Callable[[Tx], Awaitable[T | Stale]], tx: Tx | None = None
    ) -> T:
        """Run a change whose SQL decides on the account row and writes only if that row is still
        the version it read (`ledger/repository.py`): once, and only when the row changed
        meanwhile, again with it locked (then it cannot be stale). Outside a caller's
        transaction, changes to one account take turns within this process (`_Turn`)."""
        async with _Turn(user_id) if tx is None else contextlib.nullcontext():
            async with self._unit(tx, single_statement=True) as conn:
                result = await change(conn)
            if result is STALE:
                async with self._unit(tx) as conn:
                    await self.repo.lock_buckets(conn, user_id)
                    result = await change(conn)
        if isinstance(result, Stale):  # pragma: no cover - the locked row cannot change under us
            raise RuntimeError("account row changed while locked")
        return result

    async def _split_change(
        self, user: UUID, change: Callable[[Tx], Awaitable[Change]], idempotency_key: str, tx: Tx | None
    ) -> tuple[LedgerEntry, bool] | None:
        try:
            return await self.on_account(user, change, tx)
        except UniqueViolation as exc:
            return await self._after_lost_race(exc, idempotency_key, tx), False

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
        elif kind == "reserve":
            same_amount = entry.overage_delta - entry.delta == requested_delta
        elif kind in STATE_DEPENDENT_KINDS:
            same_amount = entry.delta - entry.overage_delta <= requested_delta or requested_delta == 0
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

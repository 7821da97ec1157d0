"""The credits ledger service against a real PostgreSQL: rules, idempotency, races, check."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest

from core.db import Database
from core.errors import Conflict, InsufficientCredits, InvalidRequest, NotFound
from ledger import LedgerService
from ledger.buckets import draw, give_back
from ledger.check import check_ledger
from ledger.repository import RELEASE_SQL
from ledger.service import _Turn
from tests.conftest import server_env

NewUser = Callable[..., Awaitable[uuid.UUID]]


@pytest.fixture
async def ledger_db(database_url, clean_storage) -> AsyncIterator[Database]:
    """A real pool big enough for the races below (clean tables)."""
    db = Database(database_url, min_size=2, max_size=20)
    await db.open()
    yield db
    await db.close()


@pytest.fixture
def ledger(ledger_db) -> LedgerService:
    return LedgerService(ledger_db)


@pytest.fixture
def new_ledger_user(ledger_db, ledger) -> NewUser:
    """Insert a user row (the accounts front door is another issue's) and grant `credits`."""

    async def make(credits: int = 0, *, is_admin: bool = False) -> uuid.UUID:
        async with ledger_db.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO users (email, password_hash, is_admin) VALUES (%s, 'x', %s) RETURNING id",
                (f"u{uuid.uuid4().hex[:12]}@example.com", is_admin),
            )
            user_id = (await cur.fetchone())["id"]
        if credits:
            await ledger.grant(user_id, credits, kind="purchase", idempotency_key=f"test:{user_id}")
        return user_id

    return make


async def ledger_rows(db: Database, user_id) -> list[dict]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT * FROM credit_ledger WHERE user_id = %s ORDER BY seq", (user_id,))
        return await cur.fetchall()


async def assert_ledger_clean(db: Database) -> None:
    report = await check_ledger(db)
    assert report.inconsistent == []


# -- the rules ------------------------------------------------------------------------------


async def test_a_grant_opens_the_account_and_records_the_balance_it_left(ledger, ledger_db, new_ledger_user):
    user = await new_ledger_user()
    entry = await ledger.grant(
        user, 100, kind="signup_grant", idempotency_key=f"signup_grant:{user}", note="welcome"
    )
    assert (entry.delta, entry.balance_after, entry.kind, entry.note) == (100, 100, "signup_grant", "welcome")
    await ledger.grant(user, 50, kind="purchase", idempotency_key="payment:p1", related_id="p1")
    assert await ledger.balance(user) == 150
    assert [r["balance_after"] for r in await ledger_rows(ledger_db, user)] == [100, 150]
    await assert_ledger_clean(ledger_db)


async def test_an_unknown_user_has_no_balance_and_cannot_be_granted(ledger, ledger_db):
    stranger = uuid.uuid4()
    assert await ledger.balance(stranger) == 0
    with pytest.raises(NotFound):
        await ledger.grant(stranger, 10, kind="purchase", idempotency_key="payment:nobody")
    with pytest.raises(InsufficientCredits):
        await ledger.reserve(stranger, 10, idempotency_key="job:nobody:reserve")


async def test_amounts_and_kinds_are_checked(ledger, new_ledger_user):
    user = await new_ledger_user()
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError):
            await ledger.grant(user, bad, kind="purchase", idempotency_key="k")
    with pytest.raises(ValueError):
        await ledger.grant(user, 5, kind="reserve", idempotency_key="k")


async def test_a_reservation_the_balance_cannot_cover_is_refused_and_writes_nothing(
    ledger, ledger_db, new_ledger_user
):
    user = await new_ledger_user(credits=40)
    with pytest.raises(InsufficientCredits) as refused:
        await ledger.reserve(user, 60, idempotency_key="job:a:reserve")
    assert (refused.value.status_code, refused.value.code) == (402, "insufficient_credits")
    entry = await ledger.reserve(user, 40, idempotency_key="job:b:reserve", related_id="b")
    assert (entry.delta, entry.balance_after, entry.kind, entry.related_id) == (-40, 0, "reserve", "b")
    assert len(await ledger_rows(ledger_db, user)) == 2  # the grant and one reservation


async def test_settlement_releases_the_unused_part_once(ledger, ledger_db, new_ledger_user):
    user = await new_ledger_user(credits=100)
    job = uuid.uuid4()
    await ledger.reserve(user, 60, idempotency_key=f"job:{job}:reserve", related_id=job)
    first = await ledger.settle(user, reserved=60, charged=25, job_id=job)
    again = await ledger.settle(user, reserved=60, charged=25, job_id=job)
    assert first == again
    assert (first.kind, first.delta, first.idempotency_key, first.related_id) == (
        "release",
        35,
        f"job:{job}:release",
        str(job),
    )
    assert await ledger.balance(user) == 75
    assert await ledger.settle(user, reserved=60, charged=60, job_id=uuid.uuid4()) is None
    assert await ledger.release(user, 0, idempotency_key="job:x:release") is None
    with pytest.raises(ValueError):
        await ledger.settle(user, reserved=10, charged=11, job_id=job)
    assert len(await ledger_rows(ledger_db, user)) == 3
    await assert_ledger_clean(ledger_db)


async def release_pages_read(db: Database, user: uuid.UUID, job: uuid.UUID) -> int:
    """Pages PostgreSQL reads to release `job`'s reservation (the statement run, then rolled back)."""
    params = {
        "user_id": user,
        "credits": 10,
        "idempotency_key": f"job:{job}:release",
        "reservation_key": f"job:{job}:reserve",
        "related_id": str(job),
        "note": None,
    }
    async with db.connection() as conn, conn.transaction(force_rollback=True):
        cur = await conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + RELEASE_SQL, params)
        plan = (await cur.fetchone())["QUERY PLAN"][0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


async def test_a_release_costs_the_same_whatever_the_accounts_history(ledger, ledger_db, new_ledger_user):
    """Whether a plan expiry came after the reservation is one index probe, not a walk over
    every row the account ever wrote."""
    fresh, busy = await new_ledger_user(credits=100), await new_ledger_user(credits=100)
    for _ in range(300):  # 600 rows of history: reservations and releases, no plan expiry
        earlier = uuid.uuid4()
        await ledger.reserve(busy, 10, idempotency_key=f"job:{earlier}:reserve")
        await ledger.settle(busy, reserved=10, charged=0, job_id=earlier)
    reads = []
    for user in (fresh, busy):
        job = uuid.uuid4()
        await ledger.reserve(user, 10, idempotency_key=f"job:{job}:reserve", related_id=job)
        reads.append(await release_pages_read(ledger_db, user, job))
    assert reads[1] <= reads[0] + 3, reads


async def test_refund_is_its_own_row(ledger, new_ledger_user):
    user = await new_ledger_user(credits=20)
    entry = await ledger.refund(user, 15, idempotency_key="refund:j1:k1", related_id="j1", note="bad answer")
    assert (entry.kind, entry.delta, entry.balance_after) == ("refund", 15, 35)


async def test_a_clawback_takes_at_most_the_balance_and_says_how_much(ledger, ledger_db, new_ledger_user):
    user = await new_ledger_user(credits=30)
    entry = await ledger.clawback(user, 50, idempotency_key="stripe:evt_dispute", related_id="pay_1")
    assert (entry.kind, entry.delta, entry.balance_after) == ("clawback", -30, 0)
    assert await ledger.clawback(user, 50, idempotency_key="stripe:evt_dispute") == entry
    assert await ledger.clawback(user, 10, idempotency_key="stripe:evt_other") is None  # nothing left
    with pytest.raises(Conflict):  # the key took 30: a retry asking for less is not the same change
        await ledger.clawback(user, 20, idempotency_key="stripe:evt_dispute")
    assert await ledger.balance(user) == 0
    await assert_ledger_clean(ledger_db)


# -- idempotency ----------------------------------------------------------------------------


async def test_the_same_key_again_returns_the_first_entry_and_writes_nothing(
    ledger, ledger_db, new_ledger_user
):
    user = await new_ledger_user(credits=100)
    first = await ledger.reserve(user, 15, idempotency_key="job:j1:reserve")
    assert await ledger.reserve(user, 15, idempotency_key="job:j1:reserve") == first
    grant = await ledger.grant(user, 5, kind="purchase", idempotency_key="stripe:evt_1")
    assert await ledger.grant(user, 5, kind="purchase", idempotency_key="stripe:evt_1") == grant
    assert await ledger.balance(user) == 90
    assert len(await ledger_rows(ledger_db, user)) == 3


async def test_a_key_reused_for_a_different_change_is_a_conflict(ledger, ledger_db, new_ledger_user):
    """The rule: same key + same user, kind and amount -> the first entry; anything else -> 409."""
    alice, bob = await new_ledger_user(credits=100), await new_ledger_user(credits=100)
    await ledger.reserve(alice, 15, idempotency_key="job:j1:reserve")
    attempts = [
        ledger.reserve(bob, 15, idempotency_key="job:j1:reserve"),  # other user
        ledger.reserve(alice, 20, idempotency_key="job:j1:reserve"),  # other amount
        ledger.refund(alice, 15, idempotency_key="job:j1:reserve"),  # other kind
        ledger.grant(alice, 15, kind="purchase", idempotency_key="job:j1:reserve"),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict):
            await attempt
    assert (await ledger.balance(alice), await ledger.balance(bob)) == (85, 100)
    assert len(await ledger_rows(ledger_db, alice)) == 2


async def test_the_same_key_twenty_times_at_once_writes_one_row(ledger, ledger_db, new_ledger_user):
    user = await new_ledger_user(credits=1000)
    reservations = await asyncio.gather(
        *(ledger.reserve(user, 15, idempotency_key="job:same:reserve") for _ in range(20))
    )
    grants = await asyncio.gather(
        *(ledger.grant(user, 7, kind="purchase", idempotency_key="stripe:evt_same") for _ in range(20))
    )
    assert len({e.id for e in reservations}) == 1 and len({e.id for e in grants}) == 1
    assert await ledger.balance(user) == 1000 - 15 + 7
    assert len(await ledger_rows(ledger_db, user)) == 3
    await assert_ledger_clean(ledger_db)


# -- composing with the caller's transaction -------------------------------------------------


async def test_a_reservation_in_the_callers_transaction_rolls_back_with_it(
    ledger, ledger_db, new_ledger_user
):
    user = await new_ledger_user(credits=100)
    with pytest.raises(RuntimeError):
        async with ledger_db.transaction() as tx:
            await ledger.reserve(user, 60, idempotency_key="job:rolled:reserve", tx=tx)
            raise RuntimeError("job insert failed")
    assert await ledger.balance(user) == 100
    async with ledger_db.transaction() as tx:
        await ledger.reserve(user, 60, idempotency_key="job:kept:reserve", tx=tx)
    assert await ledger.balance(user) == 40


async def test_a_replayed_or_refused_change_leaves_the_callers_transaction_usable(
    ledger, ledger_db, new_ledger_user
):
    user = await new_ledger_user(credits=100)
    first = await ledger.reserve(user, 60, idempotency_key="job:j:reserve")
    async with ledger_db.transaction() as tx:
        assert await ledger.reserve(user, 60, idempotency_key="job:j:reserve", tx=tx) == first
        with pytest.raises(InsufficientCredits):
            await ledger.reserve(user, 60, idempotency_key="job:k:reserve", tx=tx)
        await ledger.refund(user, 10, idempotency_key="refund:j:1", tx=tx)
    assert await ledger.balance(user) == 50


# -- admin adjustments ----------------------------------------------------------------------


async def test_an_admin_adjustment_is_audited_once_and_replays_the_same_answer(
    ledger, ledger_db, new_ledger_user
):
    admin, user = await new_ledger_user(is_admin=True), await new_ledger_user(credits=10)
    entry = await ledger.adjust(user, 25, idempotency_key="admin:k1", note=" goodwill ", admin_id=admin)
    assert (entry.kind, entry.delta, entry.balance_after, entry.note) == ("admin_adjust", 25, 35, "goodwill")
    assert await ledger.adjust(user, 25, idempotency_key="admin:k1", note="goodwill", admin_id=admin) == entry
    debit = await ledger.adjust(user, -35, idempotency_key="admin:k2", note="test credits", admin_id=admin)
    assert debit.balance_after == 0
    async with ledger_db.connection() as conn:
        cur = await conn.execute(
            "SELECT admin_id, action, target_id, payload FROM admin_audit_log ORDER BY created_at"
        )
        audits = await cur.fetchall()
    assert [(a["admin_id"], a["action"], a["target_id"]) for a in audits] == [
        (admin, "credits.adjust", str(user))
    ] * 2
    assert audits[0]["payload"]["delta_credits"] == 25 and audits[0]["payload"]["ledger_entry_id"] == str(
        entry.id
    )


async def test_an_admin_adjustment_is_refused_when_it_is_wrong(ledger, ledger_db, new_ledger_user):
    admin, user = await new_ledger_user(is_admin=True), await new_ledger_user(credits=10)
    cases = [
        (0, "note", InvalidRequest, "delta_credits"),
        (5, "  ", InvalidRequest, "note"),
        (-11, "too much", InvalidRequest, "delta_credits"),
    ]
    for delta, note, error, field in cases:
        with pytest.raises(error) as refused:
            await ledger.adjust(user, delta, idempotency_key=f"admin:{delta}", note=note, admin_id=admin)
        assert refused.value.extra["errors"][0]["field"] == field
    with pytest.raises(NotFound):
        await ledger.adjust(uuid.uuid4(), 5, idempotency_key="admin:ghost", note="n", admin_id=admin)
    assert await ledger.balance(user) == 10
    async with ledger_db.connection() as conn:
        assert (await (await conn.execute("SELECT count(*) AS n FROM admin_audit_log")).fetchone())["n"] == 0


async def test_reservations_and_releases_split_exactly_as_the_bucket_rules_say(
    ledger, ledger_db, new_ledger_user
):
    """The SQL that splits a reservation and a release on the locked account row agrees with the
    plain rules of `ledger.buckets` over a grid of account states, amounts and plan expiries."""
    cases = [
        (plan, purchased, overage, cap, credits, given_back, expire)
        for plan, purchased, overage, cap in [(0, 0, 0, 0), (30, 0, 0, 40), (30, 20, 0, 0), (0, 20, 10, 40),
                                              (30, 20, 10, 25), (5, 0, 0, 100)]
        for credits, given_back in [(10, 4), (25, 25), (45, 30), (60, 1), (200, 100)]
        for expire in (False, True)
    ]  # fmt: skip
    for plan, purchased, overage, cap, credits, given_back, expire in cases:
        user = await new_ledger_user()
        async with ledger_db.transaction() as tx:
            await ledger.open_account(user, tx=tx)
            await ledger.set_overage_cap(user, cap, tx=tx)
        if overage:
            await ledger.reserve(user, overage, idempotency_key=f"{user}:overage")
        if plan:
            await ledger.grant(user, plan, kind="subscription_grant", idempotency_key=f"{user}:plan")
        if purchased:
            await ledger.grant(user, purchased, kind="purchase", idempotency_key=f"{user}:pack")
        before = await ledger.buckets(user)
        expected = draw(before, credits)
        if expected is None:
            with pytest.raises(InsufficientCredits):
                await ledger.reserve(user, credits, idempotency_key=f"job:{user}:reserve")
            assert await ledger.buckets(user) == before
            continue
        entry = await ledger.reserve(user, credits, idempotency_key=f"job:{user}:reserve")
        assert (entry.plan_delta, entry.delta - entry.plan_delta, entry.overage_delta) == (
            expected.plan,
            expected.purchased,
            expected.overage,
        ), (plan, purchased, overage, cap, credits)
        expired = expire and await ledger.expire_plan_credits(user, idempotency_key=f"{user}:x", note="end")
        back = give_back(expected, given_back, await ledger.buckets(user), plan_expired=bool(expired))
        released = await ledger.settle(user, reserved=credits, charged=credits - given_back, job_id=user)
        got = (0, 0, 0) if released is None else (released.plan_delta, released.delta - released.plan_delta,
                                                  released.overage_delta)  # fmt: skip
        assert got == (back.plan, back.purchased, back.overage), (
            plan,
            purchased,
            overage,
            cap,
            credits,
            expire,
        )
    await assert_ledger_clean(ledger_db)


# -- races and database guarantees ----------------------------------------------------------


async def test_two_hundred_concurrent_reservations_never_overdraw(ledger, ledger_db, new_ledger_user):
    user = await new_ledger_user(credits=1000)
    outcomes = await asyncio.gather(
        *(ledger.reserve(user, 15, idempotency_key=f"job:{i}:reserve") for i in range(200)),
        return_exceptions=True,
    )
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert (len(succeeded), len(refused)) == (66, 134)
    assert await ledger.balance(user) == 10
    assert sorted(e.balance_after for e in succeeded) == list(range(10, 1000, 15))
    await assert_ledger_clean(ledger_db)


async def test_concurrent_reservations_and_releases_on_a_subscribers_buckets_keep_them_explained(
    ledger, ledger_db, new_ledger_user
):
    """Pairs racing on one account (plan credits, purchased credits, overage) each give back
    what they reserved: the buckets end where they started and the ledger explains every row."""
    user = await new_ledger_user(credits=50)
    async with ledger_db.transaction() as tx:
        await ledger.set_overage_cap(user, 100, tx=tx)
    await ledger.grant(user, 40, kind="subscription_grant", idempotency_key=f"{user}:plan")
    start = await ledger.buckets(user)

    async def pair(i: int) -> None:
        job = f"{user}-{i}"
        try:
            await ledger.reserve(user, 30, idempotency_key=f"job:{job}:reserve")
        except InsufficientCredits:  # all buckets held by the other pairs: a refusal writes nothing
            return
        await ledger.settle(user, reserved=30, charged=0, job_id=job)

    await asyncio.gather(*(pair(i) for i in range(40)))
    assert await ledger.buckets(user) == start
    await assert_ledger_clean(ledger_db)


async def test_the_balance_constraint_holds_under_concurrent_unguarded_debits(ledger_db, new_ledger_user):
    """Even SQL that forgets the WHERE guard cannot take a balance below zero."""
    user = await new_ledger_user(credits=1000)

    async def unguarded_debit() -> bool:
        try:
            async with ledger_db.connection() as conn:
                await conn.execute(
                    "UPDATE credit_accounts SET balance = balance - 15 WHERE user_id = %s", (user,)
                )
            return True
        except psycopg.errors.CheckViolation:
            return False

    outcomes = await asyncio.gather(*(unguarded_debit() for _ in range(100)))
    assert outcomes.count(True) == 66
    async with ledger_db.connection() as conn:
        cur = await conn.execute("SELECT balance FROM credit_accounts WHERE user_id = %s", (user,))
        assert (await cur.fetchone())["balance"] == 10


async def test_the_ledger_refuses_update_and_delete(ledger_db, new_ledger_user):
    user = await new_ledger_user(credits=100)
    for statement in (
        "UPDATE credit_ledger SET delta = 1000000 WHERE user_id = %s",
        "DELETE FROM credit_ledger WHERE user_id = %s",
    ):
        async with ledger_db.connection() as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                await conn.execute(statement, (user,))
    assert [r["delta"] for r in await ledger_rows(ledger_db, user)] == [100]


# -- ledger check ---------------------------------------------------------------------------


async def test_the_check_names_accounts_whose_ledger_does_not_explain_the_balance(
    ledger, ledger_db, new_ledger_user
):
    healthy, drifted, broken = [await new_ledger_user(credits=50) for _ in range(3)]
    assert (await check_ledger(ledger_db)).clean
    async with ledger_db.connection() as conn:
        await conn.execute("UPDATE credit_accounts SET balance = balance + 1 WHERE user_id = %s", (drifted,))
        await conn.execute(
            "INSERT INTO credit_ledger (user_id, delta, balance_after, kind) VALUES (%s, 5, 99, 'purchase')",
            (broken,),
        )
        await conn.execute("UPDATE credit_accounts SET balance = 55 WHERE user_id = %s", (broken,))
    report = await check_ledger(ledger_db)
    assert {a.user_id: (a.balance, a.ledger_sum, a.broken_links) for a in report.inconsistent} == {
        drifted: (51, 50, 0),
        broken: (55, 55, 1),
    }
    assert report.summary() == "ledger check: 3 accounts, 4 entries, 2 inconsistent"
    assert healthy not in {a.user_id for a in report.inconsistent}


async def test_ledger_check_command_exits_non_zero_naming_the_bad_accounts(
    settings, ledger_db, new_ledger_user
):
    from typer.testing import CliRunner

    from api.cli import app as cli

    def ledger_check():  # in a thread: the command runs its own event loop
        return CliRunner().invoke(cli, ["ledger", "check"], env=server_env(settings))

    user = await new_ledger_user(credits=40)
    clean = await asyncio.to_thread(ledger_check)
    async with ledger_db.connection() as conn:
        await conn.execute("UPDATE credit_accounts SET balance = 41 WHERE user_id = %s", (user,))
    dirty = await asyncio.to_thread(ledger_check)
    assert (clean.exit_code, clean.stdout.strip()) == (0, "ledger check: 1 accounts, 1 entries, clean")
    assert dirty.exit_code == 1
    assert dirty.stdout.splitlines() == [
        f"inconsistent account {user}: balance 41, ledger sum 40, broken balance_after links 0",
        "ledger check: 1 accounts, 1 entries, 1 inconsistent",
    ]


async def test_changes_to_one_account_take_turns_and_a_canceled_waiter_gives_its_turn_up():
    """In-process turns on an account (`ledger/service.py` `_Turn`): one change at a time, in
    arrival order; a waiter canceled before or after being handed the turn never stalls the rest."""
    account, order = uuid.uuid4(), []
    release = asyncio.Event()

    async def change(name: str, hold: bool = False) -> None:
        async with _Turn(account):
            order.append(name)
            if hold:
                await release.wait()

    first = asyncio.create_task(change("first", hold=True))
    await asyncio.sleep(0)
    canceled, last = asyncio.create_task(change("canceled")), asyncio.create_task(change("last"))
    await asyncio.sleep(0.01)
    canceled.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(first, last), 5)
    assert order == ["first", "last"] and canceled.cancelled()
    handed, after = asyncio.create_task(change("handed")), asyncio.create_task(change("after"))
    async with _Turn(account):
        await asyncio.sleep(0.01)  # both wait; leaving hands the turn to `handed`...
    handed.cancel()  # ...which is canceled before it runs: the turn goes on to `after`
    await asyncio.wait_for(after, 5)
    assert order[-1] == "after" and handed.cancelled()

"""`infrence ledger check`: does every account's ledger explain its balance?"""

from __future__ import annotations

from dataclasses import dataclass

from core.db import Database
from ledger.repository import AccountCheck, LedgerRepository


@dataclass(frozen=True)
class LedgerCheckReport:
    accounts: int
    entries: int
    inconsistent: list[AccountCheck]

    @property
    def clean(self) -> bool:
        return not self.inconsistent

    def summary(self) -> str:
        verdict = "clean" if self.clean else f"{len(self.inconsistent)} inconsistent"
        return f"ledger check: {self.accounts} accounts, {self.entries} entries, {verdict}"


async def check_ledger(db: Database, repository: LedgerRepository | None = None) -> LedgerCheckReport:
    """For every account: the ledger's deltas sum to the balance, its plan and overage deltas
    to the plan credits and the overage drawn, each row's `balance_after` is the previous one
    plus its delta, and after each row (in `seq` order, from 0) the plan credits lie between 0
    and the balance and the overage is not negative. Read in one
    REPEATABLE READ snapshot so concurrent postings cannot show up half-seen."""
    repo = repository or LedgerRepository()
    async with db.connection() as conn:
        async with conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            accounts, entries = await repo.counts(conn)
            inconsistent = await repo.inconsistent_accounts(conn)
    return LedgerCheckReport(accounts=accounts, entries=entries, inconsistent=inconsistent)


def run_ledger_check(database_url: str) -> int:
    """The CLI's body: print each inconsistent account, then a one-line summary; 0 when clean."""
    import asyncio

    async def _run() -> LedgerCheckReport:
        db = Database(database_url, min_size=1, max_size=1)
        await db.open()
        try:
            return await check_ledger(db)
        finally:
            await db.close()

    report = asyncio.run(_run())
    for account in report.inconsistent:
        print(
            f"inconsistent account {account.user_id}: balance {account.balance}, "
            f"ledger sum {account.ledger_sum}, broken balance_after links {account.broken_links}"
            + (
                f", plan credits {account.plan_credits} (ledger {account.ledger_plan_sum}), "
                f"overage {account.overage_credits} (ledger {account.ledger_overage_sum}), "
                f"rows leaving buckets out of bounds {account.broken_buckets}"
                if account.broken_buckets
                or account.plan_credits != account.ledger_plan_sum
                or account.overage_credits != account.ledger_overage_sum
                else ""
            )
        )
    print(report.summary())
    return 0 if report.clean else 1

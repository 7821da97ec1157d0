"""Which bucket a balance change draws on or fills, as plain decisions on an account's state.

An account holds plan credits (granted per paid period of a subscription, expiring at its
end) and purchased credits (packs, top-ups, grants: they never expire); `balance` is their
sum. A subscriber may also draw `overage` credits beyond both, up to a cap per period; those
are billed through Stripe's meter, not taken from the balance.

`draw` and `give_back` are the rules as plain functions; the ledger applies them in SQL
(`ledger/repository.py`, one statement per change), and the tests hold the two to agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Buckets:
    """An account's buckets as stored."""

    balance: int
    plan_credits: int
    overage_credits: int
    overage_cap: int

    @property
    def purchased_credits(self) -> int:
        return self.balance - self.plan_credits

    @property
    def overage_room(self) -> int:
        return max(0, self.overage_cap - self.overage_credits)


@dataclass(frozen=True, slots=True)
class Move:
    """How one ledger row moves each bucket (negative takes from the account's buckets;
    positive `overage` draws beyond them)."""

    plan: int = 0
    purchased: int = 0
    overage: int = 0

    @property
    def delta(self) -> int:
        """The balance change."""
        return self.plan + self.purchased

    @property
    def moves_nothing(self) -> bool:
        return self.plan == 0 and self.purchased == 0 and self.overage == 0


def draw(buckets: Buckets, credits: int) -> Move | None:
    """A reservation: plan credits first, then purchased ones, then overage up to the cap.
    None when even the overage room cannot cover it."""
    from_plan = min(buckets.plan_credits, credits)
    from_purchased = min(buckets.purchased_credits, credits - from_plan)
    from_overage = credits - from_plan - from_purchased
    if from_overage > buckets.overage_room:
        return None
    return Move(plan=-from_plan, purchased=-from_purchased, overage=from_overage)


def take(buckets: Buckets, credits: int, *, plan_first: bool) -> Move:
    """A clawback or an admin debit: at most the balance, never overage. A refunded
    subscription invoice takes plan credits first; a refunded pack, purchased ones first."""
    credits = min(credits, buckets.balance)
    if plan_first:
        from_plan = min(buckets.plan_credits, credits)
        return Move(plan=-from_plan, purchased=-(credits - from_plan))
    from_purchased = min(buckets.purchased_credits, credits)
    return Move(plan=-(credits - from_purchased), purchased=-from_purchased)


def give_back(reserved: Move, credits: int, buckets: Buckets, *, plan_expired: bool) -> Move:
    """The unused part of a reservation, returned in the reverse of the draw order: overage
    first (what a job did not use was never owed), then purchased, then plan credits — unless
    the plan credits expired while reserved. Overage already reset by a renewal has nothing
    left to undo."""
    to_overage = min(credits, reserved.overage)
    to_purchased = min(credits - to_overage, -reserved.purchased)
    to_plan = min(credits - to_overage - to_purchased, -reserved.plan)
    to_purchased = credits - to_overage - to_plan  # more than was reserved: a plain credit
    return Move(
        plan=0 if plan_expired else to_plan,
        purchased=to_purchased,
        overage=-min(to_overage, buckets.overage_credits),
    )

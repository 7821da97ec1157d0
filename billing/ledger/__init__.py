"""Prepaid credits: an append-only ledger with a balance that never goes below zero."""

from billing.ledger.repository import LedgerEntry
from billing.ledger.service import LedgerService

__all__ = ["LedgerEntry", "LedgerService"]

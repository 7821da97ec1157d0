"""Prepaid credits: an append-only ledger with a balance that never goes below zero."""

from ledger.repository import LedgerEntry
from ledger.service import LedgerService

__all__ = ["LedgerEntry", "LedgerService"]

"""Pages for research tests whose runs go on for several waves (extension, plan approval)."""

from __future__ import annotations

from tests.research.test_live import DOCUMENTS

QUESTION = "How do checkpoints work, and what do leases and budgets do?"
# Sentences that name things the question does not: each name is a lead the offline reasoner
# follows in later waves (so a larger budget finds more to search).
NAMED = [
    ("Postgres Saver", "Checkpoints are written by the Postgres Saver after every step of a run."),
    ("Redis Streams", "Leases are renewed while Redis Streams carry every event of a job."),
    ("Budget Gate", "Budgets are enforced by the Budget Gate before each wave of searches."),
    ("Lease Keeper", "Leases expire unless the Lease Keeper renews them with heartbeats."),
    ("Wave Planner", "Checkpoints let the Wave Planner resume the branches that did not finish."),
    ("Cost Meter", "Budgets are counted by the Cost Meter in micro-dollars for every call."),
]
PAGES = DOCUMENTS + [
    {"url": f"https://docs.example.org/{name.lower().replace(' ', '-')}", "title": name, "text": text}
    for name, text in NAMED
]

"""approve: when the client asked to review the plan, stop until it answers (LangGraph `interrupt`).

The run pauses on its thread with the plan as the interrupt's value; the caller resumes it with
`Command(resume={"queries": [...]})`, and those queries (edited or as planned) are the first
wave's. The wall clock restarts then: waiting for a person is not research time.
"""

from __future__ import annotations

import time

from langgraph.types import interrupt

from graph.relevance import focus_of
from graph.state import ResearchState


def plan_for_review(state: ResearchState) -> dict:
    return {
        "sub_questions": [part.text for part in focus_of(state.get("question") or "").parts],
        "queries": list(state.get("pending_queries") or []),
    }


async def approve(state: ResearchState) -> dict:
    if not state.get("plan_approval"):
        return {}
    answer = interrupt(plan_for_review(state))
    queries = [q.strip() for q in (answer or {}).get("queries") or [] if isinstance(q, str) and q.strip()]
    return {"pending_queries": queries, "started_at": time.time()}

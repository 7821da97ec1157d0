"""The research graph: plan -> approve -> gate -> wave x N (Send) -> gate ... -> synthesise -> critic -> cast.

    graph = build_graph(checkpointer)        # a compiled graph; the worker runs it with
    await graph.ainvoke({"question": q, "mode": m, "response_schema": s},
                        config={"configurable": {"thread_id": job_id}, "recursion_limit": 64,
                                "max_concurrency": 16},
                        context=build_context(settings, budgets), durability="sync")

Resume after a crash: `graph.ainvoke(None, same config, context=<rebuilt>)` re-runs only the
unfinished branches of the interrupted wave. The module-level `graph` (no checkpointer) is what
`langgraph.json` exports for `langgraph dev`; importing it needs no key and opens no connection.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from graph.nodes.approve import approve
from graph.nodes.cast import cast
from graph.nodes.critic import critic
from graph.nodes.gate import gate
from graph.nodes.plan import plan
from graph.nodes.synthesise import synthesise
from graph.nodes.wave import wave
from graph.state import ResearchInput, ResearchState

RECURSION_LIMIT = 64  # steps: plan + 2 per wave (max 8) + synthesise/critic twice + cast, with room


def build_graph(checkpointer: Any = None, *, name: str = "research", critic_review: bool = True) -> Any:
    """Compile the research graph, optionally with a checkpointer (e.g. AsyncPostgresSaver).

    `critic_review=False` leaves the critic out (synthesise -> cast): the one-shot baseline evals
    compare the modes against.
    """
    # No `context_schema`: servers like `langgraph dev` would build it from request JSON. Callers
    # pass a ready ResearchContext; runs without one get a default built from the environment.
    builder = StateGraph(ResearchState, input_schema=ResearchInput)
    builder.add_node("plan", plan)
    builder.add_node("approve", approve)  # a no-op unless the client reviews the plan
    builder.add_node("gate", gate, destinations=("wave", "synthesise"))
    builder.add_node("wave", wave)
    builder.add_node("synthesise", synthesise)
    builder.add_node("cast", cast)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "approve")
    builder.add_edge("approve", "gate")
    builder.add_edge("wave", "gate")
    if critic_review:
        builder.add_node("critic", critic, destinations=("synthesise", "cast"))
        builder.add_edge("synthesise", "critic")
    else:
        builder.add_edge("synthesise", "cast")
    builder.add_edge("cast", END)
    return builder.compile(checkpointer=checkpointer, name=name)


graph = build_graph()

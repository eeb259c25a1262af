"""The turn graph: load_context → detect_tone → classify → decide → review → act → compose →
deliver. Review runs only when an LLM is configured; when the model reads the message
differently, its reading goes back to decide (review → decide), which decides once more and
goes on to act.

Built by a factory so each caller (service, worker, tests, evaluation) brings its own
checkpointer; run-time dependencies arrive through the graph's context, never globals.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from agent.context import TurnContext
from agent.nodes.act import act, notify_owner
from agent.nodes.compose import compose_node
from agent.nodes.decide import decide
from agent.nodes.deliver import deliver
from agent.nodes.load import load_context
from agent.nodes.proactive import human_reply, proactive
from agent.nodes.review import review
from agent.nodes.understand import classify, detect_tone
from agent.state import TurnState
from knowledge.infra import metrics, tracing

Node = Callable[..., Awaitable[Any]]


def observed(name: str, node: Node) -> Node:
    """`node`, timed (a histogram per node) and, when tracing, in a span of its own."""
    timer = metrics.instruments().node_seconds.labels(name)

    @functools.wraps(node)  # LangGraph reads the node's parameters to know what to pass
    async def run(state: TurnState, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            if not tracing.enabled():
                return await node(state, *args, **kwargs)
            with tracing.span(f"node {name}"):
                return await node(state, *args, **kwargs)
        finally:
            timer.observe(time.perf_counter() - started)

    return run


# Routes are coroutines: LangGraph runs a plain function on a thread pool, a hop per turn.
async def after_load(
    state: TurnState,
) -> Literal["detect_tone", "notify_owner", "proactive", "human_reply", "__end__"]:
    route = state.get("route")
    if route == "notify_owner" or route == "proactive" or route == "human_reply":
        return route
    if route == "understand":
        return "detect_tone"
    return "__end__"


async def after_decide(state: TurnState) -> Literal["review", "act"]:
    """The LLM review step runs only when a model is configured, once per turn."""
    return "review" if state.get("route") == "review" else "act"


async def after_review(state: TurnState) -> Literal["decide", "act"]:
    """The model's different reading is decided again; otherwise the turn goes on."""
    return "decide" if state.get("route") == "decide" else "act"


NODES: dict[str, Node] = {
    "load_context": load_context,
    "detect_tone": detect_tone,
    "classify": classify,
    "decide": decide,
    "review": review,
    "act": act,
    "compose": compose_node,
    "deliver": deliver,
    "notify_owner": notify_owner,
    "proactive": proactive,
    "human_reply": human_reply,
}


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> Any:
    graph = StateGraph(TurnState, context_schema=TurnContext)
    for name, node in NODES.items():
        graph.add_node(name, observed(name, node))
    graph.add_edge(START, "load_context")
    graph.add_conditional_edges("load_context", after_load)
    graph.add_edge("detect_tone", "classify")
    graph.add_edge("classify", "decide")
    graph.add_conditional_edges("decide", after_decide)
    graph.add_conditional_edges("review", after_review)
    graph.add_edge("act", "compose")
    graph.add_edge("compose", "deliver")
    graph.add_edge("deliver", END)
    graph.add_edge("notify_owner", END)
    graph.add_edge("proactive", "act")
    graph.add_edge("human_reply", "deliver")
    return graph.compile(checkpointer=checkpointer)

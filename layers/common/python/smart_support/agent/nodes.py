"""The agent's node names, in one place (light: no langgraph import, so the light functions may use it)."""

from __future__ import annotations

from typing import Literal, get_args

Specialist = Literal["order_status", "order_actions", "knowledge", "escalation"]
SPECIALISTS: tuple[Specialist, ...] = get_args(Specialist)
SUPERVISOR = "supervisor"
SUMMARIZER = "summarize"
AGENT_NODES: tuple[str, ...] = (SUPERVISOR, *SPECIALISTS)
HANDOFF_PREFIX = "transfer_to_"  # a specialist's tool that hands the turn to another specialist


def tools_node(specialist: Specialist) -> str:
    """The node that runs a specialist's tool calls."""
    return f"{specialist}_tools"

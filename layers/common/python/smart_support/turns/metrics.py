"""The custom CloudWatch metrics of a turn (namespace SmartSupport, Powertools): what the dashboard in template.yaml
draws and docs/operations.md explains."""

from __future__ import annotations

from typing import Any, Literal

from smart_support.turns.models import AgentTask

Unit = Literal["Count", "Milliseconds"]

AGENT_RUNS = "AgentRuns"  # every run or resumption of the graph
TURNS = "Turns"  # turns that ended with an answer (message_complete)
TURN_LATENCY = "TurnLatency"  # a new turn: the customer's message to message_complete, ms
FIRST_TOKEN_LATENCY = "FirstTokenLatency"  # noqa: S105 - a metric name; new turn: message to first answer token, ms
APPROVALS_REQUESTED = "ApprovalsRequested"
APPROVALS_APPROVED = "ApprovalsApproved"
APPROVALS_REJECTED = "ApprovalsRejected"
APPROVALS_TIMED_OUT = "ApprovalsTimedOut"
HANDOFFS = "Handoffs"  # the escalation agent opened a ticket for a person
HANDOFF_TOOL = "escalate_to_human"


def agent_task_metrics(task: AgentTask, result: dict[str, Any]) -> list[tuple[str, Unit, float]]:
    """(name, unit, value) of every metric one agent task emits, from its task and the runner's result."""
    out: list[tuple[str, Unit, float]] = [(AGENT_RUNS, "Count", 1)]
    if result["outcome"] == "complete":
        out.append((TURNS, "Count", 1))
        if task.task == "run" and result.get("latency_ms") is not None:
            out.append((TURN_LATENCY, "Milliseconds", result["latency_ms"]))
    if result.get("first_token_ms") is not None:
        out.append((FIRST_TOKEN_LATENCY, "Milliseconds", result["first_token_ms"]))
    if result["outcome"] == "interrupted":
        out.append((APPROVALS_REQUESTED, "Count", 1))
    if task.task == "resume" and task.decision is not None:
        decision = task.decision
        name = (
            APPROVALS_TIMED_OUT
            if decision.decided_by == "timeout"
            else APPROVALS_APPROVED
            if decision.approved
            else APPROVALS_REJECTED
        )
        out.append((name, "Count", 1))
    if HANDOFF_TOOL in result.get("tools", []):
        out.append((HANDOFFS, "Count", 1))
    return out


__all__ = ["agent_task_metrics"]

"""Which metrics one agent task emits (what the dashboard's approvals, latency and handoff widgets count)."""

from __future__ import annotations

import pytest

from smart_support.turns.metrics import agent_task_metrics
from smart_support.turns.models import AgentTask

TURN = {"thread_id": "t-1", "turn": 1, "owner": "c-1", "content": "hi", "started_at": 1_000.0}
INTERRUPT = {
    "interrupt_id": "i-1",
    "action": "cancel_order",
    "args": {},
    "description": "Cancel",
    "approver": "customer",
}


def names(task: dict, result: dict) -> list[str]:
    return [name for name, _, _ in agent_task_metrics(AgentTask.model_validate(task), result)]


def test_a_completed_new_turn_counts_a_turn_and_both_latencies():
    result = {"outcome": "complete", "latency_ms": 900, "first_token_ms": 120, "tools": []}
    metrics = agent_task_metrics(AgentTask.model_validate({"task": "run", "turn": TURN}), result)
    assert metrics == [
        ("AgentRuns", "Count", 1),
        ("Turns", "Count", 1),
        ("TurnLatency", "Milliseconds", 900),
        ("FirstTokenLatency", "Milliseconds", 120),
    ]


def test_an_interrupted_turn_counts_an_approval_request_and_no_turn():
    result = {"outcome": "interrupted", "first_token_ms": None, "tools": ["cancel_order"]}
    assert names({"task": "run", "turn": TURN}, result) == ["AgentRuns", "ApprovalsRequested"]


@pytest.mark.parametrize(
    ("decision", "counted"),
    [
        ({"approved": True, "decided_by": "customer"}, "ApprovalsApproved"),
        ({"approved": False, "decided_by": "operator"}, "ApprovalsRejected"),
        ({"approved": False, "decided_by": "timeout"}, "ApprovalsTimedOut"),
    ],
)
def test_a_resumed_turn_counts_how_its_approval_was_decided(decision, counted):
    task = {"task": "resume", "turn": TURN, "interrupt": INTERRUPT, "decision": decision}
    result = {"outcome": "complete", "latency_ms": 5000, "first_token_ms": None, "tools": []}
    assert names(task, result) == ["AgentRuns", "Turns", counted]


def test_an_escalation_counts_a_handoff():
    result = {"outcome": "complete", "latency_ms": 300, "first_token_ms": 50, "tools": ["escalate_to_human"]}
    assert "Handoffs" in names({"task": "run", "turn": TURN}, result)

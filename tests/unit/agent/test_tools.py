"""Tools: ownership from the state, business rules before the approval, approver policy, exact-args writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.errors import GraphInterrupt

from smart_support.agent import tools as tools_module
from smart_support.agent.graph import close_dangling_tool_calls, run_tool
from smart_support.agent.state import SupportState
from smart_support.agent.tools import action_id_for, build_toolsets
from smart_support.turns.policy import args_hash
from tests.unit.agent.fakes import FakeOrders, FakeTickets


class NoMoreDecisions(GraphInterrupt):
    """What langgraph's interrupt() raises when no resume value is left: the graph pauses."""


class Approvals:
    """Stands in for langgraph's interrupt(): records the payloads and answers with the given resume values.

    A dict decision is bound to the request it answers (its interrupt id and arguments' hash), as the runner
    binds a human's decision; `raw` values are passed as they are. When none is left, the graph would pause.
    """

    def __init__(self, *decisions: Any, raw: bool = False, repeat: bool = True) -> None:
        self.decisions = list(decisions)
        self.raw = raw
        self.repeat = repeat
        self.payloads: list[dict[str, Any]] = []

    def __call__(self, payload: dict[str, Any]) -> Any:
        self.payloads.append(payload)
        if not self.decisions:
            raise NoMoreDecisions(payload["interrupt_id"])
        decision = self.decisions[0] if self.repeat else self.decisions.pop(0)
        if self.raw or not isinstance(decision, dict):
            return decision
        return {"interrupt_id": payload["interrupt_id"], "args_hash": payload["args_hash"], **decision}


@pytest.fixture
def orders() -> FakeOrders:
    return FakeOrders()


@pytest.fixture
def tickets() -> FakeTickets:
    return FakeTickets()


@pytest.fixture
def by_name(orders, tickets):
    toolsets = build_toolsets(orders, tickets)
    return {tool.name: tool for tools in toolsets.values() for tool in tools}


def approve_with(monkeypatch, *decisions: Any, raw: bool = False, repeat: bool = True) -> Approvals:
    approvals = Approvals(*decisions, raw=raw, repeat=repeat)
    monkeypatch.setattr(tools_module, "interrupt", approvals)
    return approvals


def call(
    by_name, name: str, args: dict[str, Any], customer_id: str = "demo-customer", call_id: str = "call-1"
) -> dict[str, Any]:
    # the customer's own words name the order (and the address): a write of anything else is asked about first
    said = HumanMessage(" ".join(str(value) for value in args.values()))
    state: SupportState = {"messages": [said], "customer_id": customer_id, "thread_id": "thread-1"}
    message = run_tool(by_name, {"name": name, "args": args, "id": call_id, "type": "tool_call"}, state)
    assert isinstance(message, ToolMessage)
    assert message.tool_call_id == call_id
    return json.loads(message.text)


def test_the_model_cannot_choose_the_customer(by_name):
    # Given customer c-2001 and a model that slips another customer id into the arguments
    # When it looks up 1042 (demo-customer's order)
    result = call(
        by_name, "get_order_status", {"order_id": "1042", "customer_id": "demo-customer"}, customer_id="c-2001"
    )

    # Then the state's customer wins and the order does not exist for them
    assert result == {
        "error": "not_found",
        "order_id": "1042",
        "message": "No order 1042 was found on this customer's account.",
    }


def test_status_of_an_own_order(by_name):
    # Given the demo customer
    # When they look up 1042
    result = call(by_name, "get_order_status", {"order_id": "#1042"})

    # Then the order is returned
    assert (result["status"], result["carrier"], result["eta"]) == ("shipped", "UPS", "2026-11-28")


@pytest.mark.parametrize(
    ("tool", "args", "approver", "amount", "description"),
    [
        ("cancel_order", {"order_id": "1043"}, "customer", 59.9, "Cancel order 1043 (1 item, $59.90)"),
        (
            "request_refund",
            {"order_id": "1044", "reason": "it arrived broken"},
            "customer",
            24.5,
            "Refund $24.50 for order 1044 (1 item)",
        ),
        (
            "request_refund",
            {"order_id": "1045", "reason": "wrong size"},
            "operator",
            129.0,
            "Refund $129.00 for order 1045 (1 item)",
        ),
        (
            "update_shipping_address",
            {"order_id": "1043", "address": "5 Main St, Boston, MA 02108"},
            "customer",
            None,
            "Change the shipping address of order 1043 to 5 Main St, Boston, MA 02108",
        ),
    ],
)
def test_write_tools_ask_the_policy_approver_with_the_exact_args(
    monkeypatch, by_name, tool, args, approver, amount, description
):
    # Given approvals that reject
    approvals = approve_with(monkeypatch, {"approved": False, "decided_by": "customer"})

    # When the write tool runs
    call(by_name, tool, args)

    # Then it asked once, with the exact arguments and the approver the policy names, bound to this tool call
    (payload,) = approvals.payloads
    # the canonical call: money as integer cents, keys sorted, strings collapsed
    expected_args = {**args, "amount_cents": round(amount * 100)} if tool == "request_refund" else args
    assert payload["interrupt_id"] == action_id_for("thread-1", "call-1")
    assert payload["args_hash"] == args_hash(expected_args)
    assert {k: payload[k] for k in ("action", "args", "description", "approver", "amount")} == {
        "action": tool,
        "args": expected_args,
        "description": description,
        "approver": approver,
        "amount": amount,
    }
    assert payload["reason"] == args.get("reason")


def test_rejection_writes_nothing_and_says_so(monkeypatch, by_name, orders):
    # Given a rejecting approver
    approve_with(monkeypatch, {"approved": False, "decided_by": "operator", "comment": "no"})

    # When a cancel runs
    result = call(by_name, "cancel_order", {"order_id": "1043"})

    # Then nothing was written and the result says why
    assert orders.writes == []
    assert result["result"] == "not_changed"
    assert result["reason"] == "declined"
    assert result["comment"] == "no"


def test_approval_writes_once_with_a_stable_action_id(monkeypatch, by_name, orders):
    # Given an approving customer
    approve_with(monkeypatch, {"approved": True, "decided_by": "customer"})

    # When the cancel runs twice for the same tool call (a node re-run after resume)
    first = call(by_name, "cancel_order", {"order_id": "1043"}, call_id="call-7")
    second = call(by_name, "cancel_order", {"order_id": "1043"}, call_id="call-7")

    # Then one write happened, keyed by thread + tool call, and both runs report success
    assert orders.writes == [("cancel_order", "1043", "demo-customer", action_id_for("thread-1", "call-7"))]
    assert first["result"] == second["result"] == "cancelled"


@pytest.mark.parametrize(
    ("tool", "order_id", "message"),
    [
        ("cancel_order", "1042", "only orders that are still processing can be cancelled"),
        ("update_shipping_address", "1044", "only orders that are still processing can be re-addressed"),
        ("request_refund", "1043", "only delivered orders can be refunded"),
    ],
)
def test_rule_violations_never_reach_an_approver(monkeypatch, by_name, tool, order_id, message):
    # Given an approver that must not be asked
    approvals = approve_with(monkeypatch, {"approved": True})
    args = {"order_id": order_id, **({"address": "5 Main St"} if tool == "update_shipping_address" else {})}

    # When the action breaks a business rule
    result = call(by_name, tool, args)

    # Then the tool refuses before interrupting
    assert approvals.payloads == []
    assert result["error"] == "not_allowed"
    assert message in result["message"]


def test_another_customers_order_is_not_found_before_any_approval(monkeypatch, by_name):
    # Given an approver that must not be asked
    approvals = approve_with(monkeypatch, {"approved": True})

    # When c-2001 tries to cancel demo-customer's processing order
    result = call(by_name, "cancel_order", {"order_id": "1043"}, customer_id="c-2001")

    # Then it is simply not found
    assert approvals.payloads == []
    assert result["error"] == "not_found"


def test_bad_arguments_still_answer_the_tool_call(by_name):
    # Given a model that forgot a required argument
    # When the tool runs
    result = call(by_name, "get_order_status", {})

    # Then the call gets an error result instead of failing the run
    assert result["error"] == "invalid_arguments"


def test_escalation_is_idempotent_per_tool_call(by_name, tickets):
    # Given the escalation tool
    # When the same tool call runs twice
    first = call(by_name, "escalate_to_human", {"summary": "wants a human"}, call_id="esc-1")
    second = call(by_name, "escalate_to_human", {"summary": "wants a human"}, call_id="esc-1")

    # Then one ticket exists
    assert first["ticket_id"] == second["ticket_id"]
    assert len(tickets.tickets) == 1
    assert tickets.tickets[0].thread_id == "thread-1"


def test_dangling_tool_calls_get_a_stand_in_result_for_the_model():
    # Given a conversation whose last tool call never got a result
    messages: list[AnyMessage] = [
        HumanMessage("cancel 1043"),
        AIMessage("", tool_calls=[{"name": "cancel_order", "args": {"order_id": "1043"}, "id": "x"}]),
    ]

    # When the messages are prepared for the model
    closed = close_dangling_tool_calls(messages)

    # Then the call is answered
    assert isinstance(closed[-1], ToolMessage)
    assert closed[-1].tool_call_id == "x"


def test_an_address_too_long_for_an_approval_request_is_refused_before_asking(monkeypatch, by_name, orders):
    # Given an approver that must not be asked
    approvals = approve_with(monkeypatch, {"approved": True})

    # When the new address is longer than an approval request may carry
    result = call(by_name, "update_shipping_address", {"order_id": "1043", "address": "Main Street " * 40})

    # Then nobody is asked and nothing changes
    assert approvals.payloads == []
    assert result["error"] == "invalid_address" and "too long" in result["message"]


def test_a_decision_for_another_approval_runs_nothing_and_asks_again(monkeypatch, by_name, orders):
    # Given a resume value that approves some other request (a retried or replayed task)
    foreign = {"interrupt_id": "other", "args_hash": "x", "approved": True, "decided_by": "customer"}
    approvals = approve_with(monkeypatch, foreign, raw=True, repeat=False)

    # When the refund of 1045 meets it
    with pytest.raises(NoMoreDecisions):
        call(by_name, "request_refund", {"order_id": "1045", "reason": "wrong size"})

    # Then nothing was written and the same operator-only approval is asked again
    assert orders.writes == []
    first, again = approvals.payloads
    assert first == again and again["approver"] == "operator"


def test_a_decision_for_other_arguments_runs_nothing(monkeypatch, by_name, orders):
    # Given a decision with this call's id but the hash of other arguments
    approvals = Approvals({"approved": True, "decided_by": "operator"}, repeat=False)
    monkeypatch.setattr(tools_module, "interrupt", lambda p: {**approvals(p), "args_hash": "tampered"})

    # When the cancel runs
    with pytest.raises(NoMoreDecisions):
        call(by_name, "cancel_order", {"order_id": "1043"})

    # Then nothing was written
    assert orders.writes == []


def test_an_operator_edit_runs_the_edited_call(monkeypatch, by_name, orders):
    # Given an operator approving a smaller refund of 1045
    approve_with(monkeypatch, {"approved": True, "decided_by": "operator", "edited_args": {"amount": 50}})

    # When the refund runs
    result = call(by_name, "request_refund", {"order_id": "1045", "reason": "wrong size"})

    # Then $50, not $129, was refunded
    assert result["result"] == "refund_requested" and result["amount"] == 50.0 and result["edited"] is True
    assert orders.orders["1045"].refund_amount == 50.0


@pytest.mark.parametrize("edits", [{"amount": 500}, {"amount": 0}, {"order_id": "1044"}, {"amount": "50"}])
def test_an_invalid_edit_never_runs(monkeypatch, by_name, orders, edits):
    # Given an approval whose edits break the rules of the original call
    approve_with(monkeypatch, {"approved": True, "decided_by": "operator", "edited_args": edits})

    # When the refund runs
    result = call(by_name, "request_refund", {"order_id": "1045", "reason": "wrong size"})

    # Then nothing was written
    assert result["error"] == "invalid_edit"
    assert orders.writes == []


def test_a_rejection_comment_reaches_the_result(monkeypatch, by_name):
    # Given a rejection with a comment
    approve_with(monkeypatch, {"approved": False, "decided_by": "operator", "comment": "Please return it first"})

    # When the refund runs
    result = call(by_name, "request_refund", {"order_id": "1045", "reason": "wrong size"})

    # Then the model reads the comment
    assert result["result"] == "not_changed" and result["comment"] == "Please return it first"

"""Approvals bound to the exact call: two writes in one model message, replayed decisions, edits, feedback."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.types import Command

from smart_support.store.orders import OrderStore
from tests.integration.agent_turns import (
    TwoWritesModel,
    bound,
    config,
    decide,
    make_graph,
    pending_request,
    run,
    say,
)


@pytest.fixture
def graph(dynamodb, orders):
    return make_graph(dynamodb, model=TwoWritesModel(token_delay_ms=0))


def order(orders: OrderStore, order_id: str) -> Any:
    found = orders.get_for_customer(order_id, "demo-customer")
    assert found is not None
    return found


def test_two_writes_in_one_message_are_two_approvals_decided_one_at_a_time(graph, orders):
    # Given a model message asking for an address change and a $129 refund
    first = say(graph, "t-two", "please do both: new address for 1043 is 1 Main St, Springfield and refund 1045")
    address = first.interrupt
    assert (address["action"], address["approver"]) == ("update_shipping_address", "customer")

    # When the customer approves the address change
    second = decide(graph, "t-two", approved=True)

    # Then only the address changed, and the refund waits as its own operator-only approval
    refund = second.interrupt
    assert (refund["action"], refund["approver"]) == ("request_refund", "operator")
    assert refund["interrupt_id"] != address["interrupt_id"]
    assert order(orders, "1043").shipping_address == "1 Main St, Springfield"
    assert order(orders, "1045").refund_status is None


def test_a_replayed_decision_never_approves_the_next_write(graph, orders):
    # Given the address change approved, and the graph now paused on the refund
    say(graph, "t-replay", "please do both: new address for 1043 is 1 Main St, Springfield and refund 1045")
    address_decision: Command[None] = Command(resume=bound(pending_request(graph, "t-replay"), approved=True))
    run(graph, address_decision, config("t-replay"))
    refund_request = pending_request(graph, "t-replay")

    # When the customer's decision is delivered again (ResumeAgent retried after the graph moved on)
    replay = run(graph, address_decision, config("t-replay"))

    # Then the refund is refused: nothing refunded, the same operator-only approval is pending
    assert order(orders, "1045").refund_status is None
    assert replay.interrupt == refund_request
    assert pending_request(graph, "t-replay") == refund_request

    # And an operator's decision bound to the refund runs it
    done = run(graph, Command(resume=bound(refund_request, True, "operator")), config("t-replay"))
    assert order(orders, "1045").refund_status == "requested"
    assert "refund of $129.00" in done.text


def test_a_decision_with_the_arguments_of_another_call_runs_nothing(graph, orders):
    # Given the refund pending
    say(graph, "t-hash", "I want a refund for order 1045, it is the wrong size")
    request = pending_request(graph, "t-hash")

    # When a decision names its id but another call's arguments
    forged = {**bound(request, True, "operator"), "args_hash": "0" * 64}
    run(graph, Command(resume=forged), config("t-hash"))

    # Then nothing is refunded and the approval still waits
    assert order(orders, "1045").refund_status is None
    assert pending_request(graph, "t-hash")["interrupt_id"] == request["interrupt_id"]


def test_an_operator_refunds_50_instead_of_129(graph, orders):
    # Given the $129 refund pending
    say(graph, "t-edit", "I want a refund for order 1045, it is the wrong size")

    # When an operator approves it edited to $50
    done = decide(graph, "t-edit", approved=True, decided_by="operator", edited_args={"amount": 50})

    # Then $50 was refunded and the customer is told so
    refunded = order(orders, "1045")
    assert (refunded.refund_status, refunded.refund_amount) == ("requested", 50.0)
    assert "refund of $50.00" in done.text


def test_a_rejection_comment_reaches_the_answer(graph, orders):
    # Given the refund pending
    say(graph, "t-reject", "I want a refund for order 1045, it is the wrong size")

    # When an operator rejects it with a comment
    done = decide(graph, "t-reject", approved=False, decided_by="operator", comment="Please send it back first.")

    # Then the model answers with the comment and nothing changed
    assert "Please send it back first." in done.text
    assert order(orders, "1045").refund_status is None

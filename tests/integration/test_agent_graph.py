"""The support agent end to end on moto: offline model, DynamoDBSaver checkpoints, demo orders."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from langgraph.types import Command

from smart_support.agent.checkpoints import LatestCheckpointSaver
from smart_support.agent.tools import action_id_for
from smart_support.store.orders import OrderStore
from smart_support.store.tickets import TicketStore
from smart_support.turns.policy import args_hash
from tests.integration.agent_turns import (
    OTHER,
    bound,
    config,
    dangling_tool_calls,
    decide,
    make_graph,
    make_saver,
    pending_request,
    run,
    say,
)


@pytest.fixture
def graph(dynamodb, orders):
    return make_graph(dynamodb)


def turn_tool_call_id(graph, thread_id: str) -> str:
    """The id of the tool call the thread is paused on."""
    (call,) = graph.get_state(config(thread_id)).values["messages"][-1].tool_calls
    return call["id"]


def order_status(orders: OrderStore, order_id: str, customer_id: str = "demo-customer") -> str:
    order = orders.get_for_customer(order_id, customer_id)
    assert order is not None
    return order.status


# ---------------------------------------------------------------- order status and tracking


def test_status_of_1042_names_status_carrier_tracking_and_eta(graph):
    # Given the demo orders
    # When the customer asks about order 1042
    turn = say(graph, "t-status", "What is the status of order 1042?")

    # Then order_status called get_order_status with the order number and answered from its result
    assert turn.tool_calls == [{"tool": "get_order_status", "args": {"order_id": "1042"}, "agent": "order_status"}]
    assert turn.agents == {"order_status"}
    for fact in ("shipped", "UPS", "1Z999AA10123456784", "2026-11-28"):
        assert fact in turn.text


def test_tokens_stream_word_by_word_and_never_from_the_supervisor(graph):
    # Given a thread
    # When the customer asks a question
    turn = say(graph, "t-stream", "What is the status of order 1043?")

    # Then the answer arrives as many small chunks, all from the specialist
    assert len(turn.tokens) > 10
    assert "supervisor" not in turn.agents
    assert all(len(content.split()) == 1 for _, content in turn.tokens)
    assert "processing" in turn.text


def test_when_will_it_arrive_after_asking_about_1042_is_about_1042(graph):
    # Given the customer asked about order 1042
    say(graph, "t-follow", "What is the status of order 1042?")

    # When they ask a follow-up without an order number
    turn = say(graph, "t-follow", "When will it arrive?")

    # Then the order comes from the conversation (the checkpoint)
    assert turn.tool_calls == [{"tool": "track_shipment", "args": {"order_id": "1042"}, "agent": "order_status"}]
    assert "2026-11-28" in turn.text


def test_follow_up_works_from_a_new_graph_and_saver(dynamodb, orders):
    # Given the first turn ran in one Lambda environment
    say(make_graph(dynamodb), "t-lambda", "What is the status of order 1042?")

    # When the next turn runs in another one (new graph, new saver, same table)
    turn = say(make_graph(dynamodb, make_saver()), "t-lambda", "can you track it?")

    # Then the context was restored from DynamoDB
    assert "2026-11-28" in turn.text
    assert "1Z999AA10123456784" in turn.text


def test_when_will_it_arrive_in_a_fresh_thread_asks_for_the_order_number(graph):
    # Given a new thread
    # When the customer asks without naming an order
    turn = say(graph, "t-fresh", "When will it arrive?")

    # Then nothing is looked up and the agent asks which order
    assert turn.tool_calls == []
    assert "order number" in turn.text
    assert "2026-11-28" not in turn.text


def test_an_answer_to_which_order_continues_the_request(graph):
    # Given the agent asked for the order number
    say(graph, "t-which", "When will my order arrive?")

    # When the customer answers with just the number
    turn = say(graph, "t-which", "1042")

    # Then it tracks that order
    assert turn.tool_calls[0]["tool"] == "track_shipment"
    assert "2026-11-28" in turn.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the status of order 1042?",
        "Can you track order 1042?",
        "When will order 1042 arrive?",
        "Please cancel order 1042",
        "I want a refund for order 1042",
    ],
)
def test_another_customer_learns_nothing_about_1042(graph, question):
    # Given order 1042 belongs to demo-customer
    # When customer c-2001 asks about it
    turn = say(graph, "t-other-" + re.sub(r"[^A-Za-z0-9]+", "-", question), question, customer_id=OTHER)

    # Then the answer is "not found" and no detail of the order leaks anywhere
    assert turn.interrupts == []
    assert "couldn't find order 1042" in turn.text
    seen = turn.everything()
    for secret in ("shipped", "UPS", "1Z999AA10123456784", "2026-11-28", "89.97", "Trail running", "Evergreen"):
        assert secret not in seen


def test_other_customer_sees_their_own_order(graph):
    # Given order 2001 belongs to c-2001
    # When c-2001 asks about it
    turn = say(graph, "t-own", "What's the status of order 2001?", customer_id=OTHER)

    # Then they get its status
    assert "Order 2001 is processing" in turn.text


# ---------------------------------------------------------------- approval-gated writes


def test_cancel_1043_interrupts_with_the_exact_args_and_writes_nothing_yet(graph, orders):
    # Given order 1043 is processing
    # When the customer asks to cancel it
    turn = say(graph, "t-cancel", "Please cancel order 1043")

    # Then the run pauses for approval with the exact tool arguments
    assert turn.tool_calls == [{"tool": "cancel_order", "args": {"order_id": "1043"}, "agent": "order_actions"}]
    assert turn.interrupt == {
        "interrupt_id": turn.interrupt["interrupt_id"],
        "args_hash": args_hash({"order_id": "1043"}),
        "action": "cancel_order",
        "args": {"order_id": "1043"},
        "description": "Cancel order 1043 (1 item, $59.90)",
        "approver": "customer",
        "amount": 59.9,
        "order_total": 59.9,
        "items": 1,
        "reason": None,
    }
    state = graph.get_state(config("t-cancel")).values
    call_id = turn_tool_call_id(graph, "t-cancel")
    assert turn.interrupt["interrupt_id"] == action_id_for("t-cancel", call_id, state)
    assert turn.text == ""
    assert order_status(orders, "1043") == "processing"
    assert graph.get_state(config("t-cancel")).next == ("order_actions_tools",)


def test_cancel_approved_in_a_new_lambda_cancels_the_order(dynamodb, orders):
    # Given a cancel request paused for approval
    say(make_graph(dynamodb), "t-approve", "Cancel order 1043")

    # When the approval arrives in another Lambda environment (new graph, new saver)
    resumed = make_graph(dynamodb, make_saver())
    turn = decide(resumed, "t-approve", approved=True)

    # Then the order is cancelled, the customer is told so, and no tool call is left open
    assert order_status(orders, "1043") == "cancelled"
    assert turn.agents == {"order_actions"}
    assert "cancelled" in turn.text
    assert dangling_tool_calls(resumed, "t-approve") == []
    assert say(resumed, "t-approve", "What is the status of order 1043?").text.startswith("Order 1043 is cancelled")


def test_cancel_rejected_changes_nothing_and_leaves_no_dangling_tool_call(graph, orders):
    # Given a cancel request paused for approval
    say(graph, "t-reject", "Cancel order 1043")

    # When the customer rejects it
    turn = decide(graph, "t-reject", approved=False, comment="changed my mind")

    # Then nothing changed, the customer is told, and every tool call got its ToolMessage
    assert order_status(orders, "1043") == "processing"
    assert "did not cancel order 1043" in turn.text
    assert "declined" in turn.text
    assert dangling_tool_calls(graph, "t-reject") == []


def test_a_timed_out_approval_changes_nothing(graph, orders):
    # Given a cancel request paused for approval
    say(graph, "t-timeout", "Cancel order 1043")

    # When the approval times out
    turn = decide(graph, "t-timeout", approved=False, decided_by="timeout")

    # Then nothing changed and the customer learns why
    assert order_status(orders, "1043") == "processing"
    assert "timed out" in turn.text


def test_a_resume_that_dies_before_its_checkpoint_is_retried_and_writes_once(dynamodb, orders):
    # Given a cancel request paused for approval
    graph = make_graph(dynamodb)
    say(graph, "t-twice", "Cancel order 1043")

    # When the approved resume writes the order and then dies before its checkpoint is stored, and is retried
    approve: Command[None] = Command(resume=bound(pending_request(graph, "t-twice"), approved=True))
    with pytest.raises(RuntimeError, match="crashed"):
        run(make_graph(dynamodb, CrashingSaver()), approve, config("t-twice"))
    retried = run(make_graph(dynamodb, make_saver()), approve, config("t-twice"))

    # Then the retry resumed the same paused checkpoint, the order was written exactly once, and the customer is told
    order = orders.get_for_customer("1043", "demo-customer")
    assert order is not None
    assert order.status == "cancelled"
    assert order.version == 1
    assert len(order.action_ids) == 1
    assert "cancelled" in retried.text


class CrashingSaver(LatestCheckpointSaver):
    """A saver whose process dies when the finished run is about to be stored."""

    def __init__(self) -> None:
        super().__init__(table_name="CheckpointsTable", ttl_seconds=1800, region_name="us-east-1")

    def put(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("crashed")


def test_resuming_a_finished_turn_again_does_nothing(graph, orders):
    # Given an approved and finished cancellation
    say(graph, "t-again", "Cancel order 1043")
    approve: Command[None] = Command(resume=bound(pending_request(graph, "t-again"), approved=True))
    run(graph, approve, config("t-again"))

    # When the same decision is delivered once more
    turn = run(graph, approve, config("t-again"))

    # Then nothing runs and nothing is written again
    assert turn.updates == []
    order = orders.get_for_customer("1043", "demo-customer")
    assert order is not None
    assert order.version == 1


def test_cancel_of_a_shipped_order_is_refused_without_asking(graph, orders):
    # Given order 1042 has shipped
    # When the customer asks to cancel it
    turn = say(graph, "t-shipped", "Cancel order 1042 please")

    # Then no approval is requested and the rule is explained
    assert turn.interrupts == []
    assert "only orders that are still processing can be cancelled" in turn.text
    assert order_status(orders, "1042") == "shipped"


def test_refund_of_1045_needs_an_operator(graph):
    # Given order 1045 was delivered and cost $129.00
    # When the customer asks for a refund
    turn = say(graph, "t-refund-big", "I'd like a refund for order 1045")

    # Then only an operator may approve it
    assert turn.interrupt["action"] == "request_refund"
    assert turn.interrupt["args"] == {
        "order_id": "1045",
        "amount_cents": 12900,
        "reason": "I'd like a refund for order 1045",
    }
    assert turn.interrupt["reason"] == "I'd like a refund for order 1045"
    assert turn.interrupt["approver"] == "operator"
    assert turn.interrupt["amount"] == 129.0


def test_refund_of_1044_is_approved_by_the_customer_and_requested(graph, orders):
    # Given order 1044 was delivered and cost $24.50
    turn = say(graph, "t-refund-small", "Can I get a refund for order 1044?")
    assert turn.interrupt["approver"] == "customer"
    assert turn.interrupt["description"] == "Refund $24.50 for order 1044 (1 item)"

    # When the customer approves
    done = decide(graph, "t-refund-small", approved=True)

    # Then the refund is requested and the customer is told
    order = orders.get_for_customer("1044", "demo-customer")
    assert order is not None
    assert order.refund_status == "requested"
    assert "requested a refund of $24.50 for order 1044" in done.text


def test_refund_of_a_shipped_order_is_refused(graph):
    # Given order 1042 is not delivered yet
    # When the customer asks for a refund
    turn = say(graph, "t-refund-shipped", "refund order 1042")

    # Then it is refused without an approval
    assert turn.interrupts == []
    assert "only delivered orders can be refunded" in turn.text


def test_address_change_is_approved_with_the_parsed_address(graph, orders):
    # Given order 1043 is processing
    new_address = "12 Oak Street, Springfield, IL 62704"

    # When the customer asks to change its address
    turn = say(graph, "t-address", f"Please change the shipping address of order 1043 to {new_address}.")

    # Then the approval shows exactly that address, and approving it updates the order
    assert turn.interrupt["action"] == "update_shipping_address"
    assert turn.interrupt["args"] == {"order_id": "1043", "address": new_address}
    assert turn.interrupt["approver"] == "customer"
    done = decide(graph, "t-address", approved=True, decided_by="operator")
    order = orders.get_for_customer("1043", "demo-customer")
    assert order is not None
    assert order.shipping_address == new_address
    assert new_address in done.text


def test_address_change_asks_for_the_address_then_uses_the_answer(graph):
    # Given the customer wants a new address but did not give it
    first = say(graph, "t-address-ask", "I need to change the address for order 1043")
    assert first.interrupts == []
    assert "new shipping address" in first.text

    # When they answer with the address
    turn = say(graph, "t-address-ask", "5 Main St, Boston, MA 02108")

    # Then the change is proposed for that order and address
    assert turn.interrupt["args"] == {"order_id": "1043", "address": "5 Main St, Boston, MA 02108"}


def test_cancel_it_uses_the_order_from_the_conversation(graph):
    # Given the customer asked about order 1043
    say(graph, "t-cancel-it", "What's the status of order 1043?")

    # When they say "cancel it"
    turn = say(graph, "t-cancel-it", "OK, please cancel it")

    # Then the cancellation is about 1043
    assert turn.interrupt["args"] == {"order_id": "1043"}


# ---------------------------------------------------------------- knowledge, escalation, small talk


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is your return policy?", "30 days"),
        ("How long does shipping take?", "3-5 business days"),
        ("Which payment methods do you accept?", "PayPal"),
        ("What does the warranty cover?", "1-year limited warranty"),
    ],
)
def test_faq_topics_are_answered_from_the_knowledge_base(graph, question, expected):
    # Given the shipped knowledge base
    # When the customer asks a policy question
    turn = say(graph, f"t-faq-{expected[:4]}", question)

    # Then the knowledge agent searched it and answered
    assert [call["tool"] for call in turn.tool_calls] == ["search_faq"]
    assert turn.tool_calls[0]["agent"] == "knowledge"
    assert turn.agents == {"knowledge"}
    assert expected in turn.text


def test_talk_to_a_human_opens_a_ticket_operators_can_list(dynamodb, graph):
    # Given a conversation about an order
    say(graph, "t-human", "What's the status of order 1042?")

    # When the customer asks for a human
    turn = say(graph, "t-human", "I want to talk to a human")

    # Then a ticket is open for that thread and the customer gets its id
    assert [(c["tool"], c["agent"]) for c in turn.tool_calls] == [("escalate_to_human", "escalation")]
    tickets, _ = TicketStore("ConversationsTable", dynamodb=dynamodb).list_page("open")
    assert [(t.thread_id, t.customer_id) for t in tickets] == [("t-human", "demo-customer")]
    assert "1042" in tickets[0].summary
    assert tickets[0].ticket_id in turn.text


def test_a_greeting_gets_a_greeting_and_the_menu(graph):
    # Given a new thread
    # When the customer says hello
    turn = say(graph, "t-hello", "Hi there!")

    # Then no tool is used and the agent explains what it can do
    assert turn.tool_calls == []
    assert turn.text.startswith("Hello!")
    assert "cancel an order" in turn.text


def test_an_unknown_request_gets_a_helpful_list_of_what_the_agent_can_do(graph):
    # Given a new thread
    # When the customer asks for something out of scope
    turn = say(graph, "t-unknown", "Can you recommend a good movie?")

    # Then the answer lists the agent's abilities
    assert turn.tool_calls == []
    assert "I can check the status or tracking of an order" in turn.text


# ---------------------------------------------------------------- checkpoints


def test_checkpoints_carry_a_ttl_equal_to_the_session_ttl(dynamodb, graph):
    # Given the saver was built with ttl_seconds=1800
    # When a turn finishes
    say(graph, "t-ttl", "Hello")

    # Then every checkpoint item expires about 30 minutes from now
    items = dynamodb.scan(TableName="CheckpointsTable")["Items"]
    assert items
    now = time.time()
    for item in items:
        assert now + 1700 < int(item["ttl"]["N"]) <= now + 1800 + 5

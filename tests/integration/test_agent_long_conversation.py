"""Long conversations on moto: bounded model input and checkpoints, facts that survive the summary."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from bench.metrics import wire_size
from smart_support.agent.context import ContextWindow
from smart_support.agent.usage import ModelUsage
from smart_support.store.demo_data import DEMO_ORDERS
from smart_support.store.orders import OrderStore
from tests.integration.agent_turns import DEMO, config, make_graph, make_saver, say

OTHER_ORDERS = [str(5001 + n) for n in range(60)]


def seed_other_orders(orders: OrderStore) -> None:
    """60 more shipped orders of the demo customer, like 1042."""
    template = next(order for order in DEMO_ORDERS if order.order_id == "1042")
    for order_id in OTHER_ORDERS:
        orders.put(template.model_copy(update={"order_id": order_id, "eta": "2026-12-05"}))


def checkpoint_items(dynamodb: Any, thread_id: str) -> list[dict[str, Any]]:
    """Every checkpoint-table item of a thread (checkpoints, payloads, pending writes)."""
    items = dynamodb.scan(TableName="CheckpointsTable")["Items"]
    return [item for item in items if f"_{thread_id}" in item["PK"]["S"]]


def test_sixty_turns_later_an_early_order_and_the_first_request_are_still_known(dynamodb, orders):
    # Given a conversation that named 1042 in turn 2 and then spent 60 turns on other orders
    seed_other_orders(orders)
    graph = make_graph(dynamodb)
    thread = "t-long"
    say(graph, thread, "Hi, I have a few questions about my orders")
    say(graph, thread, "What is the status of order 1042?")
    inputs: dict[int, int] = {}
    largest: dict[int, int] = {}
    for turn, order_id in enumerate(OTHER_ORDERS, start=3):
        usage = ModelUsage()
        answer = say(graph, thread, f"What is the status of order {order_id}?", callbacks=[usage])
        assert order_id in answer.text
        inputs[turn] = usage.input_tokens
        items = checkpoint_items(dynamodb, thread)
        largest[turn] = max(wire_size(item) for item in items)
        # Only the latest checkpoint is kept: one metadata item and its payload.
        assert len(items) == 2, [item["PK"]["S"] for item in items]

    # When the customer asks about 1042 again, then about the start of the conversation
    arrival = say(graph, thread, "When will 1042 arrive?")
    first = say(graph, thread, "What was the first thing I asked about?")

    # Then 1042 is tracked and its delivery date given, and the first request is quoted truthfully
    assert arrival.tool_calls == [{"tool": "track_shipment", "args": {"order_id": "1042"}, "agent": "order_status"}]
    assert "2026-11-28" in arrival.text
    assert first.text.startswith('Your first request in this conversation was: "Hi, I have a few questions')

    # And neither the model input nor the checkpoint grew with the conversation
    assert inputs[62] <= 1.3 * inputs[8], inputs
    assert largest[62] <= 1.3 * largest[8], largest
    state = graph.get_state(config(thread)).values
    assert sum(isinstance(m, HumanMessage) for m in state["messages"]) <= ContextWindow().turns
    assert f"Order being discussed: {OTHER_ORDERS[-3]}" in state["summary"]  # 5059 and 5060 are still verbatim


def test_the_order_being_discussed_survives_turns_that_left_the_window(dynamodb, orders):
    # Given a question about 1042 followed by more policy questions than the window holds
    graph = make_graph(dynamodb)
    thread = "t-it"
    say(graph, thread, "What is the status of order 1042?")
    for _ in range(ContextWindow().turns + 2):
        say(graph, thread, "How long does shipping take?")
    state = graph.get_state(config(thread)).values
    assert not any("1042" in m.text for m in state["messages"])  # 1042 is only in the summary now

    # When the customer asks "when will it arrive?"
    turn = say(graph, thread, "When will it arrive?")

    # Then "it" is still 1042
    assert turn.tool_calls == [{"tool": "track_shipment", "args": {"order_id": "1042"}, "agent": "order_status"}]


def test_prune_keeps_the_latest_checkpoint_of_each_thread(dynamodb, orders):
    # Given two threads whose old checkpoints a plain DynamoDBSaver left behind
    from langgraph_checkpoint_aws import DynamoDBSaver

    plain = make_graph(dynamodb, DynamoDBSaver(table_name="CheckpointsTable", region_name="us-east-1"))
    for thread in ("t-prune-a", "t-prune-b"):
        for text in ("Hello", "What is the status of order 1042?", "Cancel order 1043"):
            say(plain, thread, text)
    assert len(checkpoint_items(dynamodb, "t-prune-a")) > 4

    # When one thread is pruned
    saver = make_saver()
    saver.prune(["t-prune-a"])

    # Then it keeps its latest checkpoint with the pending approval, which still resumes; the other is untouched
    assert len([i for i in checkpoint_items(dynamodb, "t-prune-a") if i["PK"]["S"].startswith("CHECKPOINT_")]) == 1
    assert len(checkpoint_items(dynamodb, "t-prune-b")) > 4
    state = make_graph(dynamodb, saver).get_state(config("t-prune-a"))
    assert state.interrupts and state.interrupts[0].value["action"] == "cancel_order"
    assert state.values["customer_id"] == DEMO


def test_a_thread_checkpointed_before_bounded_context_is_folded_in_one_bounded_call(dynamodb, orders):
    # Given a thread whose checkpoint holds 150 turns and no summary (as every thread did before this design)
    graph = make_graph(dynamodb)
    thread = "t-legacy"
    history = []
    for n in range(150):
        answer = f"Answer {n}: " + "the order is on its way, " * 16  # about 100 tokens a turn, 15,000 in all
        history += [HumanMessage(f"What is the status of order {1042 + n % 2}? ({n})"), AIMessage(answer)]
    graph.update_state(config(thread), {"messages": history, "customer_id": DEMO, "thread_id": thread})

    # When the customer sends the next message
    usage = ModelUsage()
    turn = say(graph, thread, "Hello again", callbacks=[usage])

    # Then the turn is answered and the old turns are folded away in one call whose input stays within the budget
    assert turn.text
    state = graph.get_state(config(thread)).values
    assert sum(isinstance(m, HumanMessage) for m in state["messages"]) <= ContextWindow().turns
    assert usage.calls == 2  # the answer, then the summary
    assert usage.input_tokens < 2 * ContextWindow().tokens
    assert "Order being discussed" in state["summary"]

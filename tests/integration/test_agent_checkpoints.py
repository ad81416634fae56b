"""DynamoDB requests per turn: checkpoints with durability="exit" (what the runner uses) vs the default "async"."""

from __future__ import annotations

from collections import Counter
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from smart_support.store.demo_data import seed_orders
from tests.integration.agent_turns import bound, config, make_graph, make_saver, pending_request, run

TURNS: list[tuple[str, str]] = [
    ("status (4 steps)", "What is the status of order 1042?"),
    ("follow-up (4 steps)", "When will it arrive?"),
    ("greeting (2 steps)", "Hello"),
    ("cancel -> interrupt", "Cancel order 1043"),
    ("resume approved", "approve"),
]


def count_requests(client: Any) -> Counter[str]:
    """Count every request `client` sends, by operation (botocore before-call hook)."""
    counts: Counter[str] = Counter()
    client.meta.events.register("before-call.dynamodb", lambda model, **_: counts.update([model.name]))
    return counts


def measure(dynamodb: Any, durability: str, thread_id: str) -> list[tuple[str, dict[str, int], dict[str, int]]]:
    """(turn, checkpoint requests, order/ticket requests) for each turn of TURNS."""
    saver = make_saver()
    checkpoint_calls = count_requests(saver.client)
    data_calls = count_requests(dynamodb)
    graph = make_graph(dynamodb, saver)
    rows = []
    for label, content in TURNS:
        payload: Any = {"messages": [HumanMessage(content)], "customer_id": "demo-customer", "thread_id": thread_id}
        if content == "approve":
            payload = Command(resume=bound(pending_request(graph, thread_id), approved=True))
        checkpoint_calls.clear()
        data_calls.clear()
        run(graph, payload, config(thread_id), durability=durability)  # streamed as the runner streams it
        rows.append((label, dict(checkpoint_calls), dict(data_calls)))
    return rows


def test_durability_exit_writes_two_checkpoint_items_per_turn(dynamodb, orders):
    # Given the same conversation run with durability="exit" and with the default "async"
    exit_rows = measure(dynamodb, "exit", "t-exit")
    seed_orders(orders)
    async_rows = measure(dynamodb, "async", "t-async")

    # When the requests per turn are compared
    for (label, exit_calls, data), (_, async_calls, _) in zip(exit_rows, async_rows, strict=True):
        print(f"{label:22} exit={exit_calls} async={async_calls} orders/tickets={data}")

        # Then "exit" writes at most 4 checkpoint items per run (2 for a finished turn) and far fewer than "async"
        assert exit_calls.get("PutItem", 0) <= 4
        assert sum(exit_calls.values()) <= 8
        assert async_calls.get("PutItem", 0) > 2 * exit_calls.get("PutItem", 0)
    assert exit_rows[0][1].get("PutItem") == 2

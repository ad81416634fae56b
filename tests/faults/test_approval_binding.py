"""The two-writes exploit, on the local stack in this process: a ResumeAgent retried after the graph moved on.

A model asks for an address change (the customer may approve it) and a $129 refund (only an operator may) in one
message. The customer approves the address change; the resumed run writes it, reaches the refund's approval, and
then its final write is throttled past every retry, so the state machine retries ResumeAgent with the same
payload: the customer's decision, once more. That decision must not approve the refund.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from langgraph.types import Command

from smart_support.agent.graph import build_graph
from smart_support.agent.retry import ThrottlingError
from smart_support.store.orders import OrderStore
from smart_support.store.tickets import TicketStore
from tests.e2e.conftest import new_thread
from tests.faults.conftest import function_module
from tests.integration.agent_turns import TwoWritesModel

pytestmark = pytest.mark.e2e


class ThrottledAfterResume:
    """The agent's graph; the first resumed run of `thread_id` is throttled after the graph checkpointed."""

    def __init__(self, graph: Any, thread_id: str) -> None:
        self._graph = graph
        self._thread_id = thread_id
        self.throttled = 0

    def stream(self, graph_input: Any, config: dict, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from self._graph.stream(graph_input, config, *args, **kwargs)
        checkpoint_thread = config["configurable"]["thread_id"]  # the thread id, then "#" and the incarnation
        resumed = isinstance(graph_input, Command) and checkpoint_thread.split("#")[0] == self._thread_id
        if resumed and not self.throttled:
            self.throttled += 1
            raise ThrottlingError("Rate exceeded (the turn's final write, past the client's retries)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


@contextmanager
def two_writes_agent(inproc: Any, thread_id: str) -> Iterator[ThrottledAfterResume]:
    module = function_module(inproc, "AgentFunction")
    runner = module.runner
    original = runner.graph
    env = inproc.stack.functions.functions["AgentFunction"].environment
    graph = build_graph(
        model=TwoWritesModel(token_delay_ms=0),
        orders=OrderStore(env["ORDERS_TABLE"]),
        tickets=TicketStore(env["CONVERSATIONS_TABLE"]),
        checkpointer=original.checkpointer,
    )
    runner.graph = ThrottledAfterResume(graph, thread_id)
    try:
        yield runner.graph
    finally:
        runner.graph = original


def refund_status(inproc: Any, order_id: str) -> str | None:
    table = inproc.stack.functions.functions["AgentFunction"].environment["ORDERS_TABLE"]
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=table, Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )["Item"]
    return item.get("refund_status", {}).get("S")


def test_a_retried_resume_never_approves_the_refund(inproc, inproc_client):
    customer, operator = inproc_client.token("demo-customer"), inproc_client.token("ops-bind", "operator")
    thread = new_thread("two-writes")
    with two_writes_agent(inproc, thread) as agent, inproc_client.ws(customer) as client:
        # Given the address change waiting for the customer
        asked = "please do both: new address for 1043 is 1 Main St, Springfield and refund 1045"
        address = client.ask(thread, asked)[-1]
        assert (address["type"], address["action"], address["approver"]) == (
            "interrupt",
            "update_shipping_address",
            "customer",
        )
        # When the customer approves it and the resumed run is retried after the graph moved on
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": address["interrupt_id"],
                "approved": True,
            }
        )
        events = client.until(lambda e: e["type"] in ("interrupt", "message_complete", "error"), timeout=30)
        assert agent.throttled == 1
        # Then the refund is refused: it is an operator-only approval of its own, and nothing was refunded
        refund = events[-1]
        assert (refund["type"], refund["action"], refund["approver"]) == ("interrupt", "request_refund", "operator")
        assert refund["interrupt_id"] != address["interrupt_id"]
        assert refund_status(inproc, "1045") is None
        # And the customer still cannot decide it
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": refund["interrupt_id"],
                "approved": True,
            }
        )
        assert client.until(lambda e: e["type"] == "error")[-1]["code"] == "forbidden"
        # And only the customer's decision on the address change is in the audit
        audit = inproc_client.http("GET", "/api/v1/audit", operator)[1]["decisions"]
        mine = {r["interrupt_id"]: r for r in audit if r["thread_id"] == thread}
        assert list(mine) == [address["interrupt_id"]]
        assert (mine[address["interrupt_id"]]["outcome"], mine[address["interrupt_id"]]["decided_by"]) == (
            "approved",
            "customer",
        )
        # When an operator approves the refund, it runs, audited as the operator's
        status, _ = inproc_client.http(
            "POST", f"/api/v1/approvals/{refund['interrupt_id']}", operator, {"approved": True}
        )
        assert status == 200
        client.until(lambda e: e["type"] == "message_complete")
        assert refund_status(inproc, "1045") == "requested"
        audit = inproc_client.http("GET", "/api/v1/audit", operator)[1]["decisions"]
        record = next(r for r in audit if r["interrupt_id"] == refund["interrupt_id"])
        assert (record["decided_by"], record["decided_by_id"]) == ("operator", "ops-bind")

"""The ledger when AWS makes Step Functions retry a resumed run (issue 23, item 1), on the in-process stack.

A customer asks for a $129 refund; the run reaches the approval, then its end-of-turn transaction is throttled past
every retry, so the state machine retries the task, which returns the outcome the first attempt kept in DynamoDB.
The approval then came back with `129` where the graph had hashed `129.0`: an operator's rejection answered 200 but
was discarded ("asking again"), a second operator approved, the refund ran, and the audit held only "rejected".
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.e2e.conftest import new_thread
from tests.faults.test_failures import turn_write_fails

pytestmark = pytest.mark.e2e


def refund_status(inproc: Any, order_id: str) -> str | None:
    table = inproc.stack.functions.functions["AgentFunction"].environment["ORDERS_TABLE"]
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=table, Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )["Item"]
    return item.get("refund_status", {}).get("S")


def test_a_rejection_holds_when_the_resumed_run_is_retried(inproc, inproc_client):
    customer = inproc_client.token("demo-customer")
    alice, bob = inproc_client.token("op-alice", "operator"), inproc_client.token("op-bob", "operator")
    thread = new_thread("retried-reject")
    with inproc_client.ws(customer) as client:
        # Given a $129 refund whose run's end-of-turn transaction is throttled past every retry (RunAgent retried)
        with turn_write_fails(thread, "ThrottlingError", times=10) as fault:
            interrupt = client.ask(thread, "I want a refund for order 1045, it arrived broken")[-1]
        assert fault.hits == 10
        assert (interrupt["type"], interrupt["approver"]) == ("interrupt", "operator")
        assert interrupt["args"]["amount_cents"] == 12900
        # When op-alice rejects it
        status, body = inproc_client.http(
            "POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", alice, {"approved": False, "comment": "used"}
        )
        assert status == 200, body
        events = client.until(lambda e: e["type"] in ("interrupt", "message_complete", "error"), timeout=60)
    # Then the retried run resumed with the same rejection: the turn ends, no approval is asked again
    assert events[-1]["type"] == "message_complete", events
    assert "declined" in "".join(e.get("content", "") for e in events if e["type"] == "token")
    pending = inproc_client.http("GET", "/api/v1/approvals?status=pending&limit=100", alice)[1]["approvals"]
    assert [a for a in pending if a["thread_id"] == thread] == []
    # And a second operator cannot approve it: already decided, nothing refunded, the audit says op-alice rejected
    status, body = inproc_client.http("POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", bob, {"approved": True})
    assert status == 409, body
    assert refund_status(inproc, "1045") is None
    audit = inproc_client.http("GET", "/api/v1/audit", alice)[1]["decisions"]
    mine = [r for r in audit if r["thread_id"] == thread]
    assert [(r["outcome"], r["decided_by_id"], r["state"]) for r in mine] == [("rejected", "op-alice", "final")]

"""Conditional writes under races: a frame sent twice starts one execution; two deciders make one decision."""

import threading

import pytest

from tests.e2e.conftest import new_thread
from tests.faults.conftest import executions, transcript, wait_for_status

pytestmark = pytest.mark.e2e


def test_a_retried_frame_starts_one_execution(fault_stack):
    token = fault_stack.token("c-fault-retry")
    thread = new_thread("dup")
    frame = {"type": "message", "thread_id": thread, "content": "How long does shipping take?", "message_id": "m-1"}
    with fault_stack.ws(token) as client:
        # Given the same frame (same message_id) sent twice, as a client retrying after a timeout would
        client.send(frame)
        client.send(frame)
        # Then one turn runs: one message_complete, no error, nothing more
        events = client.until(lambda e: e["type"] == "message_complete")
        assert not [e for e in events if e["type"] == "error"]
        assert client.quiet(1.0) == []
    # And Step Functions ran one execution for turn 1, none for a turn 2
    wait_for_status(fault_stack, thread, token, "idle")
    assert len(executions(fault_stack, thread, 1)) == 1
    assert executions(fault_stack, thread, 2) == []
    assert [e["role"] for e in transcript(fault_stack, thread, token)] == ["user", "assistant"]


def test_a_second_frame_without_message_id_waits_as_the_next_turn(fault_stack):
    token = fault_stack.token("c-fault-busy")
    thread = new_thread("busy")
    frame = {"type": "message", "thread_id": thread, "content": "How long does shipping take?"}
    with fault_stack.ws(token) as client:
        client.send(frame)
        client.send(frame)
        seen: list[str] = []

        def two_turns(e: dict) -> bool:
            seen.append(e["type"])
            return seen.count("message_complete") == 2

        events = client.until(two_turns, timeout=30)
        assert [e["queued"] for e in events if e["type"] == "status"] == [1]
    # Without a message_id nothing says it is a retry: the second frame is a message of its own, one turn each
    assert len(executions(fault_stack, thread, 1)) == 1
    assert len(executions(fault_stack, thread, 2)) == 1
    assert executions(fault_stack, thread, 3) == []


@pytest.mark.parametrize("approved", [True, False])
def test_customer_and_operator_deciding_at_once_make_one_decision(fault_stack, approved):
    customer = fault_stack.token("demo-customer")
    operator = fault_stack.token("ops-race", "operator")
    thread = new_thread("race")
    with fault_stack.ws(customer) as client:
        interrupt = client.ask(thread, "Please change the address of order 1043 to 7 Race Lane, Springfield")[-1]
        assert interrupt["type"] == "interrupt"
        iid = interrupt["interrupt_id"]
        # When the customer (WebSocket) and an operator (HTTP) decide at the same moment
        barrier = threading.Barrier(2)
        http_result = {}

        def operator_decides():
            barrier.wait()
            http_result["response"] = fault_stack.http(
                "POST", f"/api/v1/approvals/{iid}", operator, {"approved": approved}
            )

        worker = threading.Thread(target=operator_decides)
        worker.start()
        barrier.wait()
        client.send({"type": "interrupt_response", "thread_id": thread, "interrupt_id": iid, "approved": approved})
        worker.join(20)
        events = client.until(lambda e: e["type"] == "message_complete", timeout=30)
        events += client.quiet(0.5)

    # Then exactly one of them won: one interrupt_resolved, the other told it was already decided
    resolved = [e for e in events if e["type"] == "interrupt_resolved"]
    assert len(resolved) == 1 and resolved[0]["approved"] is approved
    status, body = http_result["response"]
    customer_errors = [e for e in events if e["type"] == "error"]
    if resolved[0]["decided_by"] == "operator":
        assert status == 200, body
        assert [e["code"] for e in customer_errors] == ["approval_expired"]
        assert "already" in customer_errors[0]["message"]
    else:
        assert status == 409 and body["error"]["code"] == "approval_expired", body
        assert "already" in body["error"]["message"]
        assert customer_errors == []
    # And one audit record, one decision in the transcript, one message_complete
    code, audit = fault_stack.http("GET", "/api/v1/audit", operator)
    assert code == 200
    assert len([r for r in audit["decisions"] if r["interrupt_id"] == iid]) == 1
    assert sum(e["type"] == "message_complete" for e in events) == 1
    entries = transcript(fault_stack, thread, customer)
    assert len([e for e in entries if e["role"] == "decision"]) == 1

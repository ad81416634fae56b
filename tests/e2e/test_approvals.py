"""Human approval through Step Functions (.waitForTaskToken): customer and operator decisions, timeouts."""

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, executions, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own: these tests change the demo orders."""
    yield from start_stack(tmp_path_factory, "approvals")


def order_status(client, order_id):
    events = client.ask(new_thread("check"), f"What is the status of order {order_id}?")
    return tokens(events).lower()


def execution_states(stack, thread_id, turn):
    runs = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = executions(stack, thread_id, turn)
        if runs and runs[0]["status"] != "RUNNING":
            return runs[0]
        time.sleep(0.1)
    raise AssertionError(f"execution did not finish: {runs}")


def test_reject_changes_nothing(fresh):
    with fresh.ws() as client:
        thread = new_thread()
        # Given the agent asks to cancel 1043
        events = client.ask(thread, "Please cancel order 1043")
        interrupt = events[-1]
        assert interrupt["type"] == "interrupt" and interrupt["action"] == "cancel_order"
        assert interrupt["args"] == {"order_id": "1043"} and interrupt["approver"] == "customer"
        assert interrupt["description"] and interrupt["expires_at"].endswith("Z")
        assert "task_token" not in str(events).lower() and "tasktoken" not in str(events).lower()
        # When the customer rejects
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": False,
            }
        )
        rest = client.until(lambda e: e["type"] == "message_complete")
        # Then the resolution comes first, the agent says nothing changed, the order is still processing
        assert rest[0] == {
            "type": "interrupt_resolved",
            "thread_id": thread,
            "interrupt_id": interrupt["interrupt_id"],
            "approved": False,
            "decided_by": "customer",
            "outcome": "rejected",
            "args": {"order_id": "1043"},
            "description": "Cancel order 1043 (1 item, $59.90)",
        }
        assert tokens(rest, "order_actions")
        assert "processing" in order_status(client, "1043")


def test_the_resumed_run_follows_the_customer_to_a_new_connection(fresh):
    token = fresh.token("demo-customer")
    with fresh.ws(token) as first, fresh.ws(token) as second:
        thread = new_thread()
        interrupt = first.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt"
        # When the customer re-attaches the thread on a second connection (the first one stays open)
        second.send({"type": "resume", "thread_id": thread})
        attached = second.until(lambda e: e["type"] == "status")
        assert attached[-1]["status"] == "awaiting_approval"
        assert [e["interrupt_id"] for e in attached if e["type"] == "interrupt"] == [interrupt["interrupt_id"]]
        second.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": False,
            }
        )
        # Then the rest of the turn arrives on the new connection only
        rest = second.until(lambda e: e["type"] == "message_complete")
        assert rest[0]["type"] == "interrupt_resolved" and tokens(rest, "order_actions")
        assert first.quiet(0.5) == []


def test_address_change_is_approved_with_the_exact_address(fresh):
    with fresh.ws() as client:
        thread = new_thread()
        interrupt = client.ask(thread, "Please change the address of order 1043 to 12 Harbour Street, Leith")[-1]
        assert interrupt["type"] == "interrupt" and interrupt["action"] == "update_shipping_address"
        assert interrupt["args"]["order_id"] == "1043"
        assert "12 Harbour Street" in interrupt["args"]["address"] and interrupt["approver"] == "customer"
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert rest[0]["type"] == "interrupt_resolved" and rest[0]["approved"] is True
        assert "12 Harbour Street" in tokens(rest, "order_actions")


def test_small_refund_is_approved_by_the_customer(fresh):
    with fresh.ws() as client:
        thread = new_thread()
        interrupt = client.ask(thread, "I would like a refund for order 1044")[-1]
        assert interrupt["action"] == "request_refund" and interrupt["approver"] == "customer"
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert "refund" in tokens(rest, "order_actions").lower()


def test_faq_answers_come_from_the_knowledge_agent(fresh):
    with fresh.ws() as client:
        events = client.ask(new_thread(), "What is your return policy?")
        assert any(e["type"] == "tool_call" and e["tool"] == "search_faq" and e["agent"] == "knowledge" for e in events)
        assert "return" in tokens(events, "knowledge").lower()


def test_thread_busy_while_awaiting_and_approve_executes(fresh):
    with fresh.ws() as client:
        thread = new_thread()
        interrupt = client.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt"
        # While it waits, a new message on the thread waits behind it
        client.send({"type": "message", "thread_id": thread, "content": "hello?"})
        queued = client.until(lambda e: e["type"] == "status")[-1]
        assert (queued["status"], queued["queued"]) == ("awaiting_approval", 1)
        # Approve: the action runs, order_actions speaks, one message_complete
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert rest[0]["type"] == "interrupt_resolved" and rest[0]["approved"] is True
        assert rest[0]["decided_by"] == "customer"
        assert "cancel" in tokens(rest, "order_actions").lower()
        assert sum(e["type"] == "message_complete" for e in rest) == 1
        # then the queued message is answered as its own turn
        assert client.until(lambda e: e["type"] == "message_complete")[-1]["turn"] == 2
        # A second decision is refused
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        again = client.recv()
        assert again["type"] == "error" and again["code"] == "approval_expired" and "already" in again["message"]
        assert "cancelled" in order_status(client, "1043")
        # The execution went through the approval states
        run = execution_states(fresh, thread, 1)
        assert run["status"] == "SUCCEEDED"
        assert run["states"] == [
            "RunAgent",
            "CheckOutcome",
            "AwaitApproval",
            "ResumeAgent",
            "CheckOutcome",
            "TurnComplete",
        ]


def test_plain_turn_takes_three_transitions(fresh):
    with fresh.ws() as client:
        thread = new_thread()
        client.ask(thread, "What is the status of order 1042?")
        run = execution_states(fresh, thread, 1)
        assert run["states"] == ["RunAgent", "CheckOutcome", "TurnComplete"]


def test_operator_approves_a_large_refund_from_the_console_api(fresh):
    customer = fresh.token("demo-customer")
    operator = fresh.token("ops-1", "operator")
    with fresh.ws(customer) as client:
        thread = new_thread()
        # Given a refund over $50: only an operator may approve
        interrupt = client.ask(thread, "I want a refund for order 1045")[-1]
        assert interrupt["type"] == "interrupt" and interrupt["action"] == "request_refund"
        assert interrupt["approver"] == "operator"
        # The customer cannot decide it
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        refused = client.recv()
        assert refused["code"] == "forbidden" and "support agent" in refused["message"]
        # A customer token on the operator routes is 403
        assert fresh.http("GET", "/api/v1/approvals?status=pending", customer)[0] == 403
        assert (
            fresh.http("POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", customer, {"approved": True})[0] == 403
        )
        # The operator sees it in the queue, without any task token
        status, queue = fresh.http("GET", "/api/v1/approvals?status=pending", operator)
        assert status == 200
        mine = [a for a in queue["approvals"] if a["interrupt_id"] == interrupt["interrupt_id"]]
        assert mine and mine[0]["customer_id"] == "demo-customer" and mine[0]["args"]["order_id"] == "1045"
        assert "token" not in str(queue).lower()
        # When the operator approves
        status, body = fresh.http(
            "POST",
            f"/api/v1/approvals/{interrupt['interrupt_id']}",
            operator,
            {"approved": True, "comment": "loyal customer"},
        )
        assert status == 200 and body["approved"] is True
        # Then the customer's chat resumes live
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert rest[0]["type"] == "interrupt_resolved" and rest[0]["decided_by"] == "operator"
        assert tokens(rest, "order_actions")
        # A second decision is 409, an unknown id 404
        status, body = fresh.http(
            "POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", operator, {"approved": False}
        )
        assert status == 409 and body["error"]["code"] == "approval_expired"
        assert fresh.http("POST", "/api/v1/approvals/no-such-id", operator, {"approved": True})[0] == 404
        # The audit trail has the decision with who, what and the comment
        status, audit = fresh.http("GET", "/api/v1/audit", operator)
        record = next(r for r in audit["decisions"] if r["interrupt_id"] == interrupt["interrupt_id"])
        assert record["decided_by_id"] == "ops-1" and record["role"] == "operator" and record["outcome"] == "approved"
        assert record["args"]["amount_cents"] == 12900 and record["comment"] == "loyal customer"
        assert "PK" not in record and "GSI1PK" not in record


def test_operator_decision_body_is_validated(fresh):
    operator = fresh.token("ops-1", "operator")
    status, body = fresh.http("POST", "/api/v1/approvals/whatever", operator, {"approved": "yes"})
    assert status == 422 and body["error"]["code"] == "validation_error" and body["error"]["request_id"]


def test_timeout_rejects_and_changes_nothing(short_stack):
    token = short_stack.token("demo-customer")
    operator = short_stack.token("ops", "operator")
    with short_stack.ws(token) as client:
        thread = new_thread()
        interrupt = client.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt"
        # When nobody decides within APPROVAL_TIMEOUT_SECONDS (3 s here)
        rest = client.until(lambda e: e["type"] == "message_complete", timeout=20)
        # Then the wait times out into a rejection
        assert rest[0]["type"] == "interrupt_resolved" and rest[0]["decided_by"] == "timeout"
        assert rest[0]["approved"] is False
        # and the customer hears that a person will follow up
        handoff = next(e for e in rest if e["type"] == "handoff")
        assert handoff["state"] == "requested" and handoff["ticket_id"]
        assert "processing" in order_status(client, "1043")
        # A late decision is told it expired (410 for the operator, approval_expired for the customer)
        status, body = short_stack.http(
            "POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", operator, {"approved": True}
        )
        assert status == 410 and "expired" in body["error"]["message"]
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        late = client.recv()
        assert late["code"] == "approval_expired" and "expired" in late["message"]
        # And a person follows up: the timed-out request opened a ticket
        status, inbox = short_stack.http("GET", "/api/v1/tickets", operator)
        assert status == 200
        ticket = next(t for t in inbox["tickets"] if t["thread_id"] == thread)
        assert ticket["kind"] == "approval_timeout" and "Cancel order 1043" in ticket["summary"]
        assert ticket["ticket_id"] == handoff["ticket_id"] and ticket["status"] == "open"

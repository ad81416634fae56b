"""Approval decisions over a real WebSocket and the console API: bound to one interrupt id, edits, feedback."""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own: these tests refund the demo orders."""
    yield from start_stack(tmp_path_factory, "decisions")


def pending(stack: Stack, operator: str, interrupt_id: str) -> list[dict]:
    status, body = stack.http("GET", "/api/v1/approvals?status=pending&limit=100", operator)
    assert status == 200, body
    return [a for a in body["approvals"] if a["interrupt_id"] == interrupt_id]


def test_a_decision_names_the_interrupt_it_decides(stack):
    with stack.ws() as client:
        thread = new_thread("bind")
        interrupt = client.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt" and interrupt["interrupt_id"]
        # Without an interrupt id the frame is invalid
        client.send({"type": "interrupt_response", "thread_id": thread, "approved": True})
        missing = client.recv()
        assert missing["code"] == "validation_error" and "interrupt_id" in missing["message"]
        # An id that is not the pending one decides nothing
        client.send({"type": "interrupt_response", "thread_id": thread, "interrupt_id": "not-it", "approved": True})
        other = client.recv()
        assert other["code"] == "no_pending_interrupt"
        # The pending one still waits and is decided by its own id
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": False,
            }
        )
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert rest[0]["type"] == "interrupt_resolved" and rest[0]["interrupt_id"] == interrupt["interrupt_id"]


def test_approvers_see_the_reason_the_order_and_the_conversation(stack):
    customer, operator = stack.token("demo-customer"), stack.token("ops-ctx", "operator")
    with stack.ws(customer) as client:
        thread = new_thread("ctx")
        interrupt = client.ask(thread, "I want a refund for order 1045, it is the wrong size")[-1]
        # The customer's card shows the reason
        assert interrupt["reason"] == "I want a refund for order 1045, it is the wrong size"
        assert interrupt["approver"] == "operator"
        # The operator's queue shows the customer, the order, the reason and the last messages
        (approval,) = pending(stack, operator, interrupt["interrupt_id"])
        assert approval["customer_id"] == "demo-customer" and approval["order_id"] == "1045"
        assert approval["order_total"] == 129.0 and approval["editable"] == ["amount"]
        assert approval["reason"] == interrupt["reason"]
        assert approval["recent_messages"][0] == {"role": "user", "content": interrupt["reason"]}
        # The queue is paginated
        status, page = stack.http("GET", "/api/v1/approvals?status=pending&limit=1", operator)
        assert status == 200 and len(page["approvals"]) <= 1 and "next_cursor" in page
        assert stack.http("GET", "/api/v1/approvals?cursor=%%%", operator)[0] == 422
        # Rejected with a comment: the answer carries it to the customer
        status, _ = stack.http(
            "POST",
            f"/api/v1/approvals/{interrupt['interrupt_id']}",
            operator,
            {"approved": False, "comment": "Please send it back first, then we refund it."},
        )
        assert status == 200
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert "Please send it back first, then we refund it." in tokens(rest, "order_actions")


def test_an_operator_refunds_50_instead_of_129(stack):
    customer, operator = stack.token("demo-customer"), stack.token("ops-edit", "operator")
    with stack.ws(customer) as client:
        thread = new_thread("edit")
        interrupt = client.ask(thread, "Please refund order 1045, it arrived damaged")[-1]
        url = f"/api/v1/approvals/{interrupt['interrupt_id']}"
        # Invalid edits are 422 and leave it pending
        for body in (
            {"approved": True, "args": {"amount": 500}},
            {"approved": True, "args": {"amount": 0}},
            {"approved": True, "args": {"order_id": "1044"}},
            {"approved": False, "args": {"amount": 20}},
        ):
            status, error = stack.http("POST", url, operator, body)
            assert status == 422 and error["error"]["code"] == "validation_error", (body, error)
            assert pending(stack, operator, interrupt["interrupt_id"]), body
        # A customer may not edit (nor decide this one)
        assert stack.http("POST", url, customer, {"approved": True, "args": {"amount": 10}})[0] == 403
        # The edited approval runs the edited call
        status, decided = stack.http("POST", url, operator, {"approved": True, "args": {"amount": 50}})
        assert status == 200 and decided["edited_args"] == {"amount": 50}
        rest = client.until(lambda e: e["type"] == "message_complete")
        assert "refund of $50.00 for order 1045" in tokens(rest, "order_actions")
        # The audit keeps both the original and the edit
        audit = stack.http("GET", "/api/v1/audit", operator)[1]["decisions"]
        record = next(r for r in audit if r["interrupt_id"] == interrupt["interrupt_id"])
        assert record["args"]["amount_cents"] == 12900 and record["edited_args"] == {"amount": 50}
        assert record["ran_args"]["amount_cents"] == 5000 and record["outcome"] == "edited"
        assert record["decided_by_id"] == "ops-edit"

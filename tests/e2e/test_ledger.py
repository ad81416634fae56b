"""The approval ledger over the local stack and a real WebSocket (issue 23): one id, one decision; withdrawing on
Stop; edited decisions shown as they ran."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own: these tests cancel and refund the demo orders."""
    yield from start_stack(tmp_path_factory, "ledger")


def audit_of(stack: Stack, operator: str, thread: str) -> dict[str, dict[str, Any]]:
    status, body = stack.http("GET", "/api/v1/audit", operator)
    assert status == 200, body
    return {r["interrupt_id"]: r for r in body["decisions"] if r["thread_id"] == thread}


def pending_ids(stack: Stack, operator: str) -> set[str]:
    status, body = stack.http("GET", "/api/v1/approvals?status=pending&limit=100", operator)
    assert status == 200, body
    return {a["interrupt_id"] for a in body["approvals"]}


def order(stack: Stack, operator: str, order_id: str) -> dict[str, Any]:
    status, body = stack.http("GET", "/api/v1/customers/demo-customer", operator)
    if status == 200 and "orders" in body:
        return next(o for o in body["orders"] if o["order_id"] == order_id)
    return {}


def decide(client: Any, thread: str, interrupt: dict[str, Any], approved: bool) -> list[dict[str, Any]]:
    return client.decide(thread, interrupt, approved)


def test_asking_again_after_rejections_gets_a_new_id_every_time(stack):
    customer, operator = stack.token("demo-customer"), stack.token("ops-ids", "operator")
    thread = new_thread("repeat")
    ids: list[str] = []
    with stack.ws(customer) as client:
        # Given a customer who asks to cancel 1043 and rejects it five times in one thread
        for _ in range(5):
            interrupt = client.ask(thread, "Please cancel order 1043")[-1]
            assert interrupt["type"] == "interrupt", interrupt
            ids.append(interrupt["interrupt_id"])
            end = decide(client, thread, interrupt, approved=False)
            assert end[-1]["type"] == "message_complete"
        # When they ask a sixth time
        sixth = client.ask(thread, "Please cancel order 1043")[-1]
        ids.append(sixth["interrupt_id"])
        # Then every request has its own id (the sixth never reuses the fifth's)
        assert len(set(ids)) == 6
        # And approving the sixth cancels the order, audited as approved, while the five rejections stand
        end = decide(client, thread, sixth, approved=True)
        assert "now cancelled" in tokens(end)
    audit = audit_of(stack, operator, thread)
    assert [audit[i]["outcome"] for i in ids] == ["rejected"] * 5 + ["approved"]
    # And the audit says what ran: only the approved one changed the order
    assert [(audit[i]["ran"], audit[i]["result"]) for i in ids] == [(False, "not_changed")] * 5 + [(True, "cancelled")]
    assert all(audit[i]["state"] == "final" for i in ids)
    # And a late operator decision on the fifth is "already decided", not "being decided by someone else"
    status, body = stack.http("POST", f"/api/v1/approvals/{ids[4]}", operator, {"approved": True})
    assert status == 409 and "already decided" in body["error"]["message"], body
    assert audit_of(stack, operator, thread)[ids[4]]["outcome"] == "rejected"
    assert not set(ids) & pending_ids(stack, operator)


def test_stop_on_an_operator_only_approval_withdraws_it_and_the_turn_answers(stack):
    customer, operator = stack.token("demo-customer"), stack.token("ops-withdraw", "operator")
    thread = new_thread("withdraw")
    with stack.ws(customer) as client:
        # Given a $129 refund that only an operator may approve
        interrupt = client.ask(thread, "I want a refund for order 1045, it arrived broken")[-1]
        assert (interrupt["type"], interrupt["approver"]) == ("interrupt", "operator")
        assert interrupt["args"]["amount_cents"] == 12900
        # And the customer cannot approve it
        refused = decide(client, thread, interrupt, approved=True)
        assert refused[-1]["code"] == "forbidden"
        # When the customer presses Stop (and confirms the withdrawal)
        client.send({"type": "cancel", "thread_id": thread})
        events = client.until(lambda e: e["type"] in ("message_complete", "error"))
    # Then the request is withdrawn by the customer, not "rejected by you", and the turn answers and completes
    resolved = next(e for e in events if e["type"] == "interrupt_resolved")
    assert (resolved["outcome"], resolved["decided_by"], resolved["approved"]) == ("withdrawn", "customer", False)
    assert events[-1]["type"] == "message_complete" and not events[-1].get("cancelled")
    assert "withdrew" in tokens(events)
    status, session = stack.http("GET", f"/api/v1/sessions/{thread}", customer)
    assert status == 200 and session["status"] == "idle", session
    record = audit_of(stack, operator, thread)[interrupt["interrupt_id"]]
    assert (record["outcome"], record["decided_by"], record["state"]) == ("withdrawn", "customer", "final")
    # And nothing was refunded, nothing is left to decide
    assert interrupt["interrupt_id"] not in pending_ids(stack, operator)
    status, _ = stack.http("POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", operator, {"approved": True})
    assert status == 409


def test_an_edited_approval_is_shown_everywhere_as_it_ran(stack):
    customer, operator = stack.token("demo-customer"), stack.token("ops-edit", "operator")
    thread = new_thread("edited")
    with stack.ws(customer) as client:
        # Given a $129 refund waiting for an operator
        interrupt = client.ask(thread, "I want a refund for order 1045, it arrived broken")[-1]
        assert interrupt["type"] == "interrupt" and interrupt["approver"] == "operator"
        # When an operator approves half of it, with a comment
        status, body = stack.http(
            "POST",
            f"/api/v1/approvals/{interrupt['interrupt_id']}",
            operator,
            {"approved": True, "args": {"amount": 64.5}, "comment": "partial refund, item kept"},
        )
        assert status == 200, body
        assert (body["outcome"], body["args"]["amount_cents"]) == ("edited", 6450)
        events = client.until(lambda e: e["type"] in ("message_complete", "error"))
    # Then the customer's card hears what runs and the comment
    resolved = next(e for e in events if e["type"] == "interrupt_resolved")
    assert resolved["outcome"] == "edited" and resolved["args"]["amount_cents"] == 6450
    assert resolved["comment"] == "partial refund, item kept"
    assert resolved["description"].startswith("Refund $64.50 of $129.00")
    # And the answer says the amount that ran and passes the operator's comment on
    answer = tokens(events)
    assert "$64.50" in answer and "$129.00" not in answer and "partial refund, item kept" in answer
    # And the audit keeps both the request and what ran
    record = audit_of(stack, operator, thread)[interrupt["interrupt_id"]]
    assert record["args"]["amount_cents"] == 12900 and record["ran_args"]["amount_cents"] == 6450
    assert (record["ran"], record["result"]) == (True, "refund_requested")
    assert (record["outcome"], record["comment"], record["edited_args"]) == (
        "edited",
        "partial refund, item kept",
        {"amount": 64.5},
    )
    # And the replay shows the decision as it ran
    status, replay = stack.http("GET", f"/api/v1/sessions/{thread}/messages?limit=200", customer)
    assert status == 200, replay
    decision = next(m for m in replay["messages"] if m.get("role") == "decision")
    assert decision["args"]["amount_cents"] == 6450 and decision["requested_args"]["amount_cents"] == 12900
    assert decision["outcome"] == "edited" and decision["comment"] == "partial refund, item kept"


@pytest.fixture(scope="module")
def deadline_stack(tmp_path_factory) -> Iterator[Stack]:
    """Approvals time out after 2 seconds."""
    yield from start_stack(tmp_path_factory, "deadline", APPROVAL_TIMEOUT_SECONDS="2")


@pytest.mark.parametrize("offset", [-0.9, -0.5, -0.3, -0.1, 0.1])
def test_a_decision_at_the_deadline_is_either_accepted_and_run_or_refused_as_expired(deadline_stack, offset):
    stack = deadline_stack
    customer, operator = stack.token("demo-customer"), stack.token("ops-deadline", "operator")
    thread = new_thread("deadline")
    address = f"{abs(int(offset * 10))} Deadline Road, Springfield"
    with stack.ws(customer) as client:
        # Given an address change waiting for a decision, 2 seconds at most
        interrupt = client.ask(thread, f"Please change the shipping address of order 1043 to {address}")[-1]
        assert interrupt["type"] == "interrupt", interrupt
        # When an operator approves it right around the deadline
        deadline = datetime.fromisoformat(interrupt["expires_at"]).timestamp()
        time.sleep(max(0.0, deadline + offset - time.time()))
        status, body = stack.http(
            "POST", f"/api/v1/approvals/{interrupt['interrupt_id']}", operator, {"approved": True}
        )
        events = client.until(lambda e: e["type"] in ("message_complete", "error"), timeout=20)
    resolved = next(e for e in events if e["type"] == "interrupt_resolved")
    record = audit_of(stack, operator, thread)[interrupt["interrupt_id"]]
    # Then what the operator was told, what the turn resumed with and what the audit says are the same thing
    if status == 200:
        assert (resolved["decided_by"], resolved["outcome"]) == ("operator", "approved"), (offset, resolved)
        assert (record["outcome"], record["decided_by_id"]) == ("approved", "ops-deadline")
        assert f"will now ship to {address}" in tokens(events)
    else:
        assert status == 410 and "expired" in body["error"]["message"], (offset, status, body)
        assert (resolved["decided_by"], resolved["outcome"]) == ("timeout", "expired"), (offset, resolved)
        assert (record["outcome"], record["approved"]) == ("expired", False)
        assert f"will now ship to {address}" not in tokens(events)
    assert record["state"] == "final"

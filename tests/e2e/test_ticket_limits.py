"""One customer cannot flood the operators' inbox: at most 3 open tickets each, a further escalation joins the newest
open one; stale tickets are listed by age and closed in bulk (issue 28, item 2). Over the real stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack, new_thread, tokens

pytestmark = pytest.mark.e2e


def open_tickets_of(stack: Stack, customer: str) -> list[dict[str, Any]]:
    operator = stack.token("ops-inbox", "operator")
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        path = "/api/v1/tickets?status=open&limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, page = stack.http("GET", path, operator)
        assert status == 200, page
        found += [t for t in page["tickets"] if t["customer_id"] == customer]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def escalate(stack: Stack, customer: str) -> tuple[str, str]:
    """A new conversation asking for a person: (its thread id, the answer)."""
    thread = new_thread("flood")
    with stack.ws(stack.token(customer)) as client:
        events = client.ask(thread, "I want to talk to a human")
    assert events[-1]["type"] == "message_complete", events[-1]
    return thread, tokens(events)


def test_a_customer_has_at_most_three_open_tickets_and_more_requests_join_the_newest(stack: Stack):
    # Given a customer who asked for a person in three conversations
    first = [escalate(stack, "c-flood") for _ in range(3)]
    assert all("handed this over" in answer for _, answer in first)
    assert len(open_tickets_of(stack, "c-flood")) == 3

    # When they ask again in three more conversations
    more = [escalate(stack, "c-flood") for _ in range(3)]

    # Then no ticket is opened: each is told a person already has the request, which joins the newest ticket
    tickets = open_tickets_of(stack, "c-flood")
    assert len(tickets) == 3
    assert all("already has your request" in answer for _, answer in more)
    noted = [t for t in tickets if t["notes"]]
    assert len(noted) == 1, tickets
    newest = noted[0]
    notes = " ".join(n["text"] for n in newest["notes"])
    assert all(f"conversation {thread}" in notes for thread, _ in more)
    # And each of those conversations is linked to it
    for thread, _ in more:
        status, session = stack.http("GET", f"/api/v1/sessions/{thread}", stack.token("c-flood"))
        assert (status, session["ticket_id"]) == (200, newest["ticket_id"])

    # And another customer still gets their own ticket
    _, answer = escalate(stack, "c-calm-one")
    assert "handed this over" in answer
    assert len(open_tickets_of(stack, "c-calm-one")) == 1


def test_stale_tickets_are_listed_by_age_and_closed_in_bulk(stack: Stack):
    # Given a customer at the cap
    for _ in range(3):
        escalate(stack, "c-stale")
    ids = [t["ticket_id"] for t in open_tickets_of(stack, "c-stale")]
    operator = stack.token("ops-bulk", "operator")

    # When an operator lists the tickets older than an hour: these are not stale yet
    status, page = stack.http("GET", "/api/v1/tickets?status=open&older_than_hours=1&limit=100", operator)
    assert status == 200
    assert not set(ids) & {t["ticket_id"] for t in page["tickets"]}

    # When the operator closes them in bulk, with one unknown id among them
    status, result = stack.http(
        "POST", "/api/v1/tickets/close", operator, {"ticket_ids": [*ids, "T-UNKNOWN"], "note": "Stale: closing"}
    )

    # Then the known ones are closed with the note, the unknown one is reported, nothing else fails
    assert status == 200, result
    assert sorted(t["ticket_id"] for t in result["closed"]) == sorted(ids)
    assert all(t["status"] == "closed" and t["notes"][-1]["text"] == "Stale: closing" for t in result["closed"])
    assert [(f["ticket_id"], f["code"]) for f in result["failed"]] == [("T-UNKNOWN", "not_found")]
    assert open_tickets_of(stack, "c-stale") == []

    # And the customer's next request opens a ticket again
    _, answer = escalate(stack, "c-stale")
    assert "handed this over" in answer
    assert len(open_tickets_of(stack, "c-stale")) == 1


def test_bulk_close_is_for_operators_and_bounded(stack: Stack):
    body = {"ticket_ids": ["T-1"]}
    assert stack.http("POST", "/api/v1/tickets/close", stack.token("c-sneaky"), body)[0] == 403
    operator = stack.token("ops-bulk", "operator")
    status, error = stack.http("POST", "/api/v1/tickets/close", operator, {"ticket_ids": [f"T-{n}" for n in range(51)]})
    assert status == 422 and "ticket_ids" in str(error)

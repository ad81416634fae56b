"""Human hand-off over the local stack: a customer asks for a person, an operator joins, talks, and hands back."""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own (its analytics start at zero); answers paced so a turn is still running when we act."""
    yield from start_stack(tmp_path_factory, "handoff", OFFLINE_TOKEN_DELAY_MS="40")


def analytics(stack: Stack, operator: str) -> dict:
    status, body = stack.http("GET", "/api/v1/analytics", operator)
    assert status == 200
    return body["handoffs"]


def test_the_whole_loop_from_request_to_release_and_back_to_the_ai(desk):
    operator = desk.token("op-1", "operator", name="Alice")
    before = analytics(desk, operator)
    thread = new_thread("handoff")
    with desk.ws(desk.token("demo-customer")) as customer, desk.ws(operator) as console:
        # Given a customer who asks for a person about order 1042
        events = customer.ask(thread, "I want to talk to a human about order 1042")
        requested = [e for e in events if e["type"] == "handoff"]
        assert [e["state"] for e in requested] == ["requested"]
        ticket_id = requested[0]["ticket_id"]
        assert ticket_id in tokens(events)  # the agent keeps helping: it says a person will come, and the ticket
        assert events[-1]["type"] == "message_complete"

        # When an operator finds the request in the inbox
        status, inbox = desk.http("GET", "/api/v1/tickets?status=open", operator)
        assert status == 200
        ticket = next(t for t in inbox["tickets"] if t["ticket_id"] == ticket_id)
        assert ticket["thread_id"] == thread and ticket["kind"] == "escalation" and ticket["status"] == "open"
        assert "1042" in ticket["summary"] and ticket["customer_id"] == "demo-customer"

        # And watches the conversation (the reply says a person is waited for)
        console.send({"type": "watch", "thread_id": thread})
        watched = console.until(lambda e: e["type"] in ("status", "error"))[-1]
        assert watched == {
            "type": "status",
            "thread_id": thread,
            "status": "idle",
            "turn": 1,
            "handoff": "requested",
            "ticket_id": ticket_id,
            "queued": 0,
        }

        # And takes it over
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/takeover", operator)
        assert status == 200, body
        assert body["status"] == "with_operator" and body["operator"] == "Alice"
        assert body["ticket"]["ticket_id"] == ticket_id and body["ticket"]["status"] == "assigned"
        assert body["ticket"]["assignee"] == "op-1"
        joined = customer.until(lambda e: e["type"] == "handoff")[-1]
        assert (joined["state"], joined["operator"], joined["ticket_id"]) == ("joined", "Alice", ticket_id)
        assert console.until(lambda e: e["type"] == "handoff")[-1]["state"] == "joined"

        # Then what the customer writes reaches the operator, and no model answers it
        customer.send({"type": "message", "thread_id": thread, "content": "Is anyone there?", "message_id": "m-h1"})
        ack = customer.until(lambda e: e["type"] in ("status", "error"))[-1]
        assert (ack["type"], ack["status"], ack["operator"]) == ("status", "with_operator", "Alice")
        seen = console.until(lambda e: e["type"] == "customer_message")[-1]
        assert (seen["content"], seen["message_id"]) == ("Is anyone there?", "m-h1")
        # a retried frame is acknowledged again but stored and shown once
        customer.send({"type": "message", "thread_id": thread, "content": "Is anyone there?", "message_id": "m-h1"})
        assert customer.until(lambda e: e["type"] == "status")[-1]["status"] == "with_operator"

        # And what the operator writes reaches the customer
        reply = "Hi, I'm Alice. I checked order 1043 for you: it has not shipped yet."
        status, sent = desk.http("POST", f"/api/v1/sessions/{thread}/messages", operator, {"content": reply})
        assert status == 200, sent
        got = customer.until(lambda e: e["type"] == "operator_message")[-1]
        assert got == {
            "type": "operator_message",
            "thread_id": thread,
            "message_id": sent["message_id"],
            "content": reply,
            "operator": "Alice",
            "at": sent["at"],
        }
        later = customer.quiet(0.5) + console.quiet(0.3)
        assert not [e for e in later if e["type"] in ("token", "tool_call", "message_complete", "customer_message")]

        # When the operator hands the conversation back, with an internal note
        status, body = desk.http(
            "POST", f"/api/v1/sessions/{thread}/release", operator, {"note": "Explained that 1043 ships Monday."}
        )
        assert status == 200, body
        assert body["status"] == "idle" and body["ticket"]["status"] == "closed"
        assert body["ticket"]["notes"][-1]["text"] == "Explained that 1043 ships Monday."
        returned = customer.until(lambda e: e["type"] == "handoff")[-1]
        assert (returned["state"], returned["operator"]) == ("returned", "Alice")

        # Then the AI answers again, with the exchange in its context: "it" is the order the operator named
        events = customer.ask(thread, "What is the status of it?")
        assert [(e["tool"], e["args"]) for e in events if e["type"] == "tool_call"] == [
            ("get_order_status", {"order_id": "1043"})
        ]
        assert "1043" in tokens(events) and "processing" in tokens(events)
        assert events[-1]["type"] == "message_complete"
        # and the watching console saw that turn live
        live = console.until(lambda e: e["type"] == "message_complete")
        assert tokens(live) == tokens(events)

    # And the transcript replays the whole conversation in order, the operator's words as role `operator`
    status, replay = desk.http("GET", f"/api/v1/sessions/{thread}/messages", desk.token("demo-customer"))
    assert status == 200
    story = [
        (m["role"], m.get("state") or m.get("content", "")[:24])
        for m in replay["messages"]
        if m["role"] != "assistant" or m.get("content")
    ]
    assert story[0] == ("user", "I want to talk to a huma")
    assert story[1:3] == [("system", "requested"), ("assistant", story[2][1])]
    assert story[3:] == [
        ("system", "joined"),
        ("user", "Is anyone there?"),
        ("operator", reply[:24]),
        ("system", "returned"),
        ("user", "What is the status of it?"[:24]),
        ("assistant", story[-1][1]),
    ]
    assert next(m for m in replay["messages"] if m["role"] == "operator")["operator"] == "Alice"

    # And analytics counted one request and one join, with a time to join
    after = analytics(desk, operator)
    assert after["requested"] == before["requested"] + 1 and after["joined"] == before["joined"] + 1
    assert after["median_seconds_to_join"] is not None


def test_a_customer_cannot_watch_a_thread(desk):
    with desk.ws(desk.token("demo-customer")) as customer:
        thread = new_thread("watch")
        customer.ask(thread, "Hello")
        customer.send({"type": "watch", "thread_id": thread})
        refused = customer.until(lambda e: e["type"] in ("status", "error"))[-1]
        assert (refused["type"], refused["code"], refused["thread_id"]) == ("error", "forbidden", thread)


def test_an_operator_cannot_post_into_a_thread_it_does_not_hold(desk):
    holder, other = desk.token("op-1", "operator"), desk.token("op-2", "operator")
    thread = new_thread("nothold")
    with desk.ws() as customer:
        customer.ask(thread, "Hello")
        # Not held by anyone: 409, nothing reaches the customer
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/messages", holder, {"content": "hi"})
        assert status == 409 and body["error"]["code"] == "thread_not_held" and body["error"]["request_id"]
        # Held by op-1: op-2 may neither write, nor release, nor take it over
        assert desk.http("POST", f"/api/v1/sessions/{thread}/takeover", holder)[0] == 200
        customer.until(lambda e: e["type"] == "handoff")
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/messages", other, {"content": "hi"})
        assert status == 409 and "op-1 holds this conversation" in body["error"]["message"]
        assert desk.http("POST", f"/api/v1/sessions/{thread}/release", other)[0] == 409
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/takeover", other)
        assert status == 409 and body["error"]["code"] == "thread_busy"
        assert not [e for e in customer.quiet(0.5) if e["type"] == "operator_message"]
        # A customer may not use the operator routes at all
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/messages", desk.token(), {"content": "hi"})
        assert status == 403 and body["error"]["code"] == "forbidden"
        # The holder hands it back (no note needed)
        assert desk.http("POST", f"/api/v1/sessions/{thread}/release", holder)[0] == 200


def test_takeover_during_a_running_turn_or_a_pending_approval_is_thread_busy(desk):
    operator = desk.token("op-1", "operator")
    with desk.ws() as customer:
        # While the agent is answering
        thread = new_thread("busy")
        customer.send({"type": "message", "thread_id": thread, "content": "Hello there"})
        customer.until(lambda e: e["type"] == "token")
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/takeover", operator)
        assert status == 409 and body["error"]["code"] == "thread_busy"
        rest = customer.until(lambda e: e["type"] == "message_complete")
        assert not [e for e in rest if e["type"] == "handoff"]
        # While an approval waits
        thread = new_thread("busy")
        assert customer.ask(thread, "Please cancel order 1043")[-1]["type"] == "interrupt"
        status, body = desk.http("POST", f"/api/v1/sessions/{thread}/takeover", operator)
        assert status == 409 and body["error"]["code"] == "thread_busy"
        state = desk.http("GET", f"/api/v1/sessions/{thread}", operator)[1]
        assert state["status"] == "awaiting_approval" and state["handoff"] is None


def test_tickets_are_assigned_noted_and_closed_and_the_customer_stops_waiting(desk):
    operator = desk.token("op-3", "operator", name="Sam")
    with desk.ws() as customer:
        thread = new_thread("ticket")
        events = customer.ask(thread, "Can I speak to a real person?")
        ticket_id = next(e["ticket_id"] for e in events if e["type"] == "handoff")
        path = f"/api/v1/tickets/{ticket_id}"
        # Assign to oneself, with a note
        status, ticket = desk.http("POST", path, operator, {"status": "assigned", "note": "Calling them back."})
        assert status == 200 and ticket["status"] == "assigned" and ticket["assignee_name"] == "Sam"
        assert [(n["text"], n["by"]) for n in ticket["notes"]] == [("Calling them back.", "op-3")]
        assert ticket_id in [
            t["ticket_id"] for t in desk.http("GET", "/api/v1/tickets?status=assigned", operator)[1]["tickets"]
        ]
        # The note is internal: nothing reached the customer, and the replay does not show it
        assert not [e for e in customer.quiet(0.3) if e["type"] != "pong"]
        assert "Calling them back" not in str(desk.http("GET", f"/api/v1/sessions/{thread}/messages")[1])
        # Close it: the customer stops waiting for a person
        status, ticket = desk.http("POST", path, operator, {"status": "closed"})
        assert status == 200 and ticket["status"] == "closed" and ticket["closed_by"] == "op-3"
        closed = customer.until(lambda e: e["type"] == "handoff")[-1]
        assert (closed["state"], closed["ticket_id"], closed["closed"]) == ("returned", ticket_id, True)
        customer.send({"type": "resume", "thread_id": thread})
        assert customer.until(lambda e: e["type"] == "status")[-1].get("handoff") is None
        # A closed ticket stays closed; bad input is a 422; unknown tickets are 404
        status, body = desk.http("POST", path, operator, {"status": "assigned"})
        assert status == 409 and body["error"]["code"] == "ticket_conflict"
        assert desk.http("POST", path, operator, {})[0] == 422
        assert desk.http("POST", path, operator, {"status": "gone"})[0] == 422
        assert desk.http("POST", "/api/v1/tickets/T-0000000000", operator, {"note": "x"})[0] == 404
        closed_list = desk.http("GET", "/api/v1/tickets?status=closed&limit=1", operator)[1]
        assert closed_list["tickets"][0]["ticket_id"] == ticket_id  # newest closed first

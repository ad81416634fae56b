"""Chat as people type: messages queued behind a running turn, and "stop generating" (cancel)."""

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Client, Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e

LONG_QUESTION = "What is your return policy?"  # a long knowledge-base answer


@pytest.fixture(scope="module")
def slow(tmp_path_factory) -> Iterator[Stack]:
    """A stack that streams 60 ms a word, so an answer lasts long enough to be stopped or queued behind."""
    yield from start_stack(tmp_path_factory, "queue", OFFLINE_TOKEN_DELAY_MS="60")


def replay(stack: Stack, thread: str, token: str | None = None) -> list[dict]:
    status, body = stack.http("GET", f"/api/v1/sessions/{thread}/messages", token or stack.token())
    assert status == 200, body
    return body["messages"]


def completes(client: Client, count: int, timeout: float = 60) -> list[dict]:
    """Events until the `count`-th message_complete (and half a second more: nothing else may follow)."""
    seen = 0

    def done(event: dict) -> bool:
        nonlocal seen
        seen += event["type"] == "message_complete"
        return seen == count

    return client.until(done, timeout=timeout) + client.quiet(0.5)


def test_a_burst_is_queued_three_deep_then_busy_and_all_answered_in_order(slow):
    with slow.ws(slow.token()) as client:
        thread = new_thread("burst")
        # Given a running turn
        client.send({"type": "message", "thread_id": thread, "content": LONG_QUESTION})
        client.until(lambda e: e["type"] == "token")
        # When the customer sends three more, then a fourth
        replies = []
        for n, text in enumerate(("hi", "my order", "it's 1042", "hello?"), start=1):
            client.send({"type": "message", "thread_id": thread, "content": text, "message_id": f"m-{n}"})
            replies.append(client.until(lambda e: e["type"] in ("status", "error"))[-1])
        # Then three are queued (how many wait), the fourth is thread_busy and is not stored
        assert [(r["type"], r.get("queued")) for r in replies[:3]] == [("status", 1), ("status", 2), ("status", 3)]
        assert all(r["status"] == "running" for r in replies[:3])
        assert (replies[3]["type"], replies[3]["code"]) == ("error", "thread_busy")
        # And the queued messages make the next turn when this one ends: two turns, one message_complete each
        events = completes(client, 2)
        done = [e for e in events if e["type"] == "message_complete"]
        assert [e["turn"] for e in done] == [1, 2] and not any(e.get("cancelled") for e in done)
        assert "1042" in tokens(events[events.index(done[0]) :])
        # And the transcript holds everything in order, nothing lost or doubled
        users = [e["content"] for e in replay(slow, thread) if e["role"] == "user"]
        assert users == [LONG_QUESTION, "hi", "my order", "it's 1042"]


def test_the_queue_survives_a_reconnect(slow):
    token = slow.token()
    thread = new_thread("queue-resume")
    with slow.ws(token) as first:
        first.send({"type": "message", "thread_id": thread, "content": LONG_QUESTION})
        first.until(lambda e: e["type"] == "token")
        first.send({"type": "message", "thread_id": thread, "content": "and 1044?"})
        assert first.until(lambda e: e["type"] == "status")[-1]["queued"] == 1
    with slow.ws(token) as second:
        second.send({"type": "resume", "thread_id": thread})
        status = second.until(lambda e: e["type"] == "status")[-1]
        assert (status["status"], status["queued"]) == ("running", 1)
        events = completes(second, 2)
        assert "1044" in tokens(events)


def test_a_message_queued_behind_an_approval_is_answered_after_the_decision(slow):
    with slow.ws(slow.token()) as client:
        thread = new_thread("queue-approval")
        interrupt = client.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt"
        client.send({"type": "message", "thread_id": thread, "content": "What is the status of order 1042?"})
        queued = client.until(lambda e: e["type"] == "status")[-1]
        assert (queued["status"], queued["queued"]) == ("awaiting_approval", 1)
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": False,
            }
        )
        events = completes(client, 2)
        assert events[0]["type"] == "interrupt_resolved"
        first = next(i for i, e in enumerate(events) if e["type"] == "message_complete")
        assert "shipped" in tokens(events[first:]).lower()


def test_cancel_stops_the_answer_within_a_second_and_keeps_the_partial(slow):
    with slow.ws(slow.token()) as client:
        thread = new_thread("stop")
        client.send({"type": "message", "thread_id": thread, "content": LONG_QUESTION})
        client.until(lambda e: e["type"] == "token")
        # When the customer stops it
        client.send({"type": "cancel", "thread_id": thread})
        stopped_at = time.monotonic()
        events = client.until(lambda e: e["type"] == "message_complete", timeout=15)
        # Then tokens stop within a second and the turn ends with one message_complete marked cancelled
        last_token = max((i for i, e in enumerate(events) if e["type"] == "token"), default=-1)
        assert events[-1]["cancelled"] is True
        assert time.monotonic() - stopped_at < 3
        assert client.quiet(1.0) == []
        assert last_token < len(events) - 1
        # And the partial answer stays in the transcript, marked interrupted
        answer = [e for e in replay(slow, thread) if e["role"] == "assistant"][-1]
        assert answer["interrupted"] is True and answer["content"]
        assert len(answer["content"]) < 400
        # And the thread works again
        assert client.ask(thread, "What is the status of order 1042?")[-1]["type"] == "message_complete"


def test_stop_during_an_approval_withdraws_it_and_the_turn_answers(slow):
    operator = slow.token("ops-cancel", "operator")
    with slow.ws(slow.token()) as client:
        thread = new_thread("stop-approval")
        interrupt = client.ask(thread, "I want a refund for order 1045")[-1]
        assert interrupt["approver"] == "operator"
        client.send({"type": "cancel", "thread_id": thread})
        events = client.until(lambda e: e["type"] == "message_complete", timeout=20)
        assert events[0]["type"] == "interrupt_resolved"
        assert (events[0]["approved"], events[0]["decided_by"], events[0]["outcome"]) == (
            False,
            "customer",
            "withdrawn",
        )
        assert not events[-1].get("cancelled") and "withdrew" in tokens(events)
        audit = slow.http("GET", "/api/v1/audit", operator)[1]["decisions"]
        record = next(r for r in audit if r["interrupt_id"] == interrupt["interrupt_id"])
        assert (record["outcome"], record["decided_by"]) == ("withdrawn", "customer")


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3])
def test_cancel_racing_the_natural_end_gives_exactly_one_message_complete(stack, delay):
    with stack.ws() as client:
        thread = new_thread("race")
        assert client.ask(thread, "Hello")[-1]["type"] == "message_complete"  # the thread exists
        client.send({"type": "message", "thread_id": thread, "content": "Hello"})
        time.sleep(delay)
        client.send({"type": "cancel", "thread_id": thread})
        events = client.until(lambda e: e["type"] == "message_complete", timeout=15) + client.quiet(1.0)
        assert sum(e["type"] == "message_complete" for e in events) == 1
        assert not [e for e in events if e["type"] == "error"]
        assert client.ask(thread, "Hello")[-1]["type"] == "message_complete"

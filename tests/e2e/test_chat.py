"""The walking skeleton over a real WebSocket: frames -> message Lambda -> Step Functions (real ASL) -> agent."""

import json

import pytest

from tests.e2e.conftest import new_thread, tokens


def test_order_status_turn(stack):
    # Given a customer on the chat
    with stack.ws() as client:
        thread = new_thread()
        # When they ask about order 1042
        events = client.ask(thread, "What is the status of order 1042?")
        # Then the agent calls get_order_status with the order id, streams that it shipped, completes once
        calls = [e for e in events if e["type"] == "tool_call"]
        assert calls[0]["tool"] == "get_order_status" and calls[0]["args"] == {"order_id": "1042"}
        assert calls[0]["agent"] == "order_status" and calls[0]["thread_id"] == thread
        answer = tokens(events)
        assert "shipped" in answer.lower()
        assert all(e["agent"] == "order_status" for e in events if e["type"] == "token")
        assert [e["type"] for e in events].count("message_complete") == 1
        assert events[-1]["type"] == "message_complete"
        assert client.quiet(0.5) == []  # nothing after message_complete


def test_multi_turn_context_in_one_thread(stack):
    with stack.ws() as client:
        thread = new_thread()
        client.ask(thread, "What is the status of order 1042?")
        events = client.ask(thread, "When will it arrive?")
        assert events[-1]["type"] == "message_complete"
        assert "2026-11-28" in tokens(events)


def test_separate_threads_do_not_share_context(stack):
    with stack.ws() as client:
        first, second = new_thread("a"), new_thread("b")
        client.ask(first, "What is the status of order 1042?")
        events = client.ask(second, "When will it arrive?")
        answer = tokens(events).lower()
        assert "2026-11-28" not in answer
        assert "order number" in answer


def test_two_threads_at_once_on_one_connection(stack):
    with stack.ws() as client:
        first, second = new_thread("a"), new_thread("b")
        client.send({"type": "message", "thread_id": first, "content": "What is the status of order 1042?"})
        client.send({"type": "message", "thread_id": second, "content": "What is the status of order 1044?"})
        done: set[str] = set()

        def both_complete(e: dict) -> bool:
            if e["type"] == "message_complete":
                done.add(e["thread_id"])
            return len(done) == 2

        events = client.until(both_complete)
        assert done == {first, second}
        assert "1042" in "".join(e["content"] for e in events if e["type"] == "token" and e["thread_id"] == first)
        assert "1044" in "".join(e["content"] for e in events if e["type"] == "token" and e["thread_id"] == second)


def test_two_messages_at_once_are_two_turns(stack):
    with stack.ws() as client:
        thread = new_thread()
        client.send({"type": "message", "thread_id": thread, "content": "What is the status of order 1042?"})
        client.send({"type": "message", "thread_id": thread, "content": "And 1044?"})
        # Frames are handled concurrently, as API Gateway does: one starts the turn, the other waits behind it.
        seen: list[str] = []

        def two_turns(e: dict) -> bool:
            seen.append(e["type"])
            return seen.count("message_complete") == 2

        client.until(two_turns, timeout=30)
        # No error. The second frame usually finds the first turn running and waits (`status`); with the offline
        # model at zero delay a whole turn can end (in ~25 ms) before it is handled, and then it starts its own.
        assert [e["type"] for e in client.seen if e["type"] in ("status", "error")] in (["status"], [])
        assert client.quiet(0.5) == []
        # and the thread works again afterwards
        assert client.ask(thread, "What is the status of order 1044?")[-1]["type"] == "message_complete"


def test_a_retried_frame_with_the_same_message_id_runs_once(stack):
    with stack.ws() as client:
        thread = new_thread()
        frame = {
            "type": "message",
            "thread_id": thread,
            "content": "What is the status of order 1042?",
            "message_id": "m-1",
        }
        client.send(frame)
        client.send(frame)
        client.until(lambda e: e["type"] == "message_complete")
        assert client.quiet(1.0) == []
        assert [e for e in client.seen if e["type"] in ("error", "message_complete")] == [
            e for e in client.seen if e["type"] == "message_complete"
        ]


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ("this is not json", "invalid_json", "Invalid JSON"),
        ("[1,2,3]", "invalid_json", "Invalid JSON"),
        (json.dumps({"type": "teleport"}), "unknown_type", "teleport"),
        (json.dumps({"content": "no type"}), "unknown_type", "missing"),
        (json.dumps({"type": "message", "content": "hi"}), "validation_error", "thread_id"),
        (json.dumps({"type": "message", "thread_id": "t 1", "content": "hi"}), "validation_error", "thread_id"),
        (json.dumps({"type": "message", "thread_id": "t1", "content": "  "}), "validation_error", "content"),
        (json.dumps({"type": "message", "thread_id": "t1", "content": "x" * 8001}), "validation_error", "content"),
        (
            json.dumps({"type": "interrupt_response", "thread_id": "t1", "approved": "yes"}),
            "validation_error",
            "approved",
        ),
        (json.dumps({"type": "message", "thread_id": "t1", "content": "x" * 40000}), "message_too_large", "too large"),
    ],
)
def test_bad_frames_get_a_clear_error_and_the_connection_stays_usable(stack, raw, code, words):
    with stack.ws() as client:
        client.send(raw)
        error = client.recv()
        assert error["type"] == "error" and error["code"] == code
        assert words in error["message"]
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}


def test_unknown_thread_resume_is_not_found(stack):
    with stack.ws() as client:
        client.send({"type": "resume", "thread_id": new_thread("ghost")})
        assert client.recv()["code"] == "not_found"


def test_expired_session(short_stack):
    import time

    token = short_stack.token()
    with short_stack.ws(token) as client:
        thread = new_thread()
        assert client.ask(thread, "hello")[-1]["type"] == "message_complete"
        time.sleep(3.5)
        events = client.ask(thread, "What is the status of order 1042?")
        assert events[-1]["type"] == "error" and events[-1]["code"] == "session_expired"
        assert "expired" in events[-1]["message"]
        # a new thread works
        assert client.ask(new_thread(), "hello")[-1]["type"] == "message_complete"


def test_health_and_template_driven_http(stack):
    status, body = stack.http("GET", "/api/v1/health")
    assert status == 200 and body["status"] == "ok"

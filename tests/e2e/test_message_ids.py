"""A `message`'s message_id over the real stack: a repeated one never writes anything.

The same content again (a client retrying) is acknowledged with the thread's `status`; other content under an id the
thread already took is `validation_error` naming `message_id`. Running turn, queued message, idle thread, held thread.
"""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Client, Stack, executions, new_thread, start_stack

pytestmark = pytest.mark.e2e

LONG_QUESTION = "What is your return policy?"  # a long knowledge-base answer: still running when we send again
ORDER_QUESTION = "What is the status of order 1042?"


@pytest.fixture(scope="module")
def paced(tmp_path_factory) -> Iterator[Stack]:
    """A stack that streams 60 ms a word, so a turn is still running when the next frame arrives."""
    yield from start_stack(tmp_path_factory, "message-ids", OFFLINE_TOKEN_DELAY_MS="60")


def message(thread: str, content: str, message_id: str) -> dict:
    return {"type": "message", "thread_id": thread, "content": content, "message_id": message_id}


def reply(client: Client) -> dict:
    """The reply to the frame just sent (tokens of a running turn may come first)."""
    return client.until(lambda e: e["type"] in ("status", "error"))[-1]


def completes(client: Client, count: int, timeout: float = 60) -> list[dict]:
    """Events until the `count`-th message_complete, and a second more (nothing else may follow)."""
    seen = 0

    def done(event: dict) -> bool:
        nonlocal seen
        seen += event["type"] == "message_complete"
        return seen == count

    return client.until(done, timeout=timeout) + client.quiet(1.0)


def users(stack: Stack, thread: str) -> list[str]:
    """The customer's messages in the replay (GET /api/v1/sessions/{thread}/messages), in order."""
    status, body = stack.http("GET", f"/api/v1/sessions/{thread}/messages", stack.token())
    assert status == 200, body
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def assert_refused(event: dict, thread: str) -> None:
    assert (event["type"], event["code"], event["thread_id"]) == ("error", "validation_error", thread), event
    assert "message_id" in event["message"]


def test_a_repeat_during_the_running_turn_keeps_its_question(paced):
    thread = new_thread("mid-running")
    with paced.ws(paced.token()) as client:
        # Given a turn started by m-1, streaming its answer
        client.send(message(thread, LONG_QUESTION, "m-1"))
        client.until(lambda e: e["type"] == "token")
        # When the same frame comes again, then other content under m-1
        client.send(message(thread, LONG_QUESTION, "m-1"))
        again = reply(client)
        client.send(message(thread, "Cancel order 1043", "m-1"))
        refused = reply(client)
        # Then the repeat is answered with the thread's status, the other content refused naming message_id
        assert (again["type"], again["status"], again["turn"], again["queued"]) == ("status", "running", 1, 0)
        assert_refused(refused, thread)
        # And the turn ends once: one message_complete, no second turn
        done = [e for e in completes(client, 1) if e["type"] == "message_complete"]
        assert [e["turn"] for e in done] == [1]
    assert executions(paced, thread, 2) == []
    # And the replay keeps the original question, once, before its answer
    assert users(paced, thread) == [LONG_QUESTION]


def test_a_repeat_after_the_turn_ended_is_answered_with_the_status_and_starts_nothing(paced):
    thread = new_thread("mid-idle")
    with paced.ws(paced.token()) as client:
        # Given a finished turn started by m-1
        assert client.ask(thread, ORDER_QUESTION, message_id="m-1")[-1]["type"] == "message_complete"
        # When the same frame comes again, then other content under m-1
        client.send(message(thread, ORDER_QUESTION, "m-1"))
        again = reply(client)
        client.send(message(thread, "Cancel order 1043", "m-1"))
        refused = reply(client)
        # Then the repeat gets the thread's status (idle, turn 1), the other content is refused, and no turn runs
        assert (again["type"], again["status"], again["turn"], again["queued"]) == ("status", "idle", 1, 0)
        assert_refused(refused, thread)
        assert not [e for e in client.quiet(1.0) if e["type"] in ("token", "message_complete")]
        # And a new message_id starts the next turn as usual
        assert client.ask(thread, "Thanks!", message_id="m-2")[-1]["turn"] == 2
    assert len(executions(paced, thread, 1)) == 1 and len(executions(paced, thread, 2)) == 1
    assert executions(paced, thread, 3) == []
    assert users(paced, thread) == [ORDER_QUESTION, "Thanks!"]


def test_a_repeat_of_a_queued_message_is_queued_once(paced):
    thread = new_thread("mid-queued")
    with paced.ws(paced.token()) as client:
        # Given a running turn, and a message queued behind it as m-q
        client.send(message(thread, LONG_QUESTION, "m-1"))
        client.until(lambda e: e["type"] == "token")
        client.send(message(thread, "my order is 1042", "m-q"))
        assert reply(client)["queued"] == 1
        # When the queued frame comes again, then other content under m-q
        client.send(message(thread, "my order is 1042", "m-q"))
        again = reply(client)
        client.send(message(thread, "actually 1043", "m-q"))
        refused = reply(client)
        # Then the repeat says the status with one message waiting, the other content is refused
        assert (again["type"], again["status"], again["queued"]) == ("status", "running", 1)
        assert_refused(refused, thread)
        # And the queue makes one more turn, with the message once
        done = [e for e in completes(client, 2) if e["type"] == "message_complete"]
        assert [e["turn"] for e in done] == [1, 2]
        assert users(paced, thread) == [LONG_QUESTION, "my order is 1042"]
        # When the same frame comes once more, after its turn ended
        client.send(message(thread, "my order is 1042", "m-q"))
        late = reply(client)
        # Then it is still a repeat: the status, no turn 3
        assert (late["type"], late["status"], late["turn"]) == ("status", "idle", 2)
        assert not [e for e in client.quiet(1.0) if e["type"] in ("token", "message_complete")]
    assert executions(paced, thread, 3) == []
    assert users(paced, thread) == [LONG_QUESTION, "my order is 1042"]


def test_a_repeat_while_an_operator_holds_the_thread_is_stored_once(paced):
    thread = new_thread("mid-held")
    operator = paced.token("op-mid", "operator", name="Alice")
    with paced.ws(paced.token()) as client:
        # Given a finished turn started by m-1, then an operator holding the thread, and the customer's m-h there
        assert client.ask(thread, ORDER_QUESTION, message_id="m-1")[-1]["type"] == "message_complete"
        status, body = paced.http("POST", f"/api/v1/sessions/{thread}/takeover", operator)
        assert status == 200, body
        client.send(message(thread, "Is anyone there?", "m-h"))
        assert (reply(client)["status"]) == "with_operator"
        # When the AI turn's frame and the held message's frame come again, and other content under each id
        replies = []
        for content, message_id in (
            (ORDER_QUESTION, "m-1"),
            ("Is anyone there?", "m-h"),
            ("Cancel order 1043", "m-1"),
            ("Hello??", "m-h"),
        ):
            client.send(message(thread, content, message_id))
            replies.append(reply(client))
        # Then the repeats are acknowledged with the held status, the others refused naming message_id
        assert [(r["type"], r.get("status"), r.get("operator")) for r in replies[:2]] == [
            ("status", "with_operator", "Alice"),
            ("status", "with_operator", "Alice"),
        ]
        for refused in replies[2:]:
            assert_refused(refused, thread)
    # And the replay has each message once, as first written
    assert users(paced, thread) == [ORDER_QUESTION, "Is anyone there?"]

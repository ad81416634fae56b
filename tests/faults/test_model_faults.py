"""The model failing mid-answer, as Bedrock does under load: `LOCAL_FAULTS=bedrock.ConverseStream=throttlingException@p`
makes the offline model break off its stream with the EventStreamError botocore raises for Bedrock's exception event.

The graph tries a failed model call again (after the throttling backoff) and takes back what it had streamed; past
those tries the task fails with ThrottlingError and the state machine runs it again. Every turn must still end with
one answer: the one the transcript keeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Stack, executions, new_thread, start_stack, tokens
from tests.faults.conftest import converse_at_once, transcript, wait_for_status

pytestmark = pytest.mark.e2e

QUESTIONS = ("How long does shipping take?", "What is the status of order 1042?", "What is your return policy?")
CONVERSATIONS = 4


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Bedrock throttles 40 % of the model calls after their stream opened."""
    yield from start_stack(
        tmp_path_factory,
        "throttled-model",
        LOCAL_FAULTS="bedrock.ConverseStream=throttlingException@0.4",
        LOG_LEVEL="WARNING",
    )


def converse(stack: Stack, n: int, results: dict[int, Any]) -> None:
    """The three questions on a thread of its own; what the client saw of each turn."""
    token = stack.token("demo-customer")
    thread = new_thread(f"model-faults-{n}")
    turns: list[list[dict[str, Any]]] = []
    with stack.ws(token) as client:
        for question in QUESTIONS:
            turns.append(client.ask(thread, question, message_id=uuid.uuid4().hex))
        turns[-1] += client.quiet(0.5)
    results[n] = {"thread": thread, "token": token, "turns": turns}


def test_every_turn_ends_with_one_answer_while_the_model_throttles_mid_stream(throttled):
    # When four conversations of three questions each run at once while the model throttles
    results = converse_at_once(throttled, converse, CONVERSATIONS, timeout=240)
    stats = throttled.http("GET", "/_local/stats")[1]
    assert stats["iam"]["faults"].get("bedrock.ConverseStream=throttlingException", 0) > 0, stats["iam"]["faults"]

    restarts = 0
    for seen in results.values():
        wait_for_status(throttled, seen["thread"], seen["token"], "idle", timeout=30)
        saved = [e for e in transcript(throttled, seen["thread"], seen["token"]) if e["role"] == "assistant"]
        for turn, events in enumerate(seen["turns"], start=1):
            kinds = [e["type"] for e in events]
            # Then every turn ended normally, with exactly one message_complete and no error
            assert kinds[-1] == "message_complete" and kinds.count("message_complete") == 1, kinds
            assert "error" not in kinds, events
            # And one execution ran it
            assert len(executions(throttled, seen["thread"], turn)) == 1
            restarts += kinds.count("answer_restart")
        # And what the client shows is one answer a turn: the one the transcript keeps
        shown = [tokens(events) for events in seen["turns"]]
        assert all(shown)
        assert "".join(shown) == "".join(e["content"] for e in saved)
    # And every conversation got the same answers (the model is deterministic: no answer doubled or cut)
    answers = {tuple(tokens(events) for events in seen["turns"]) for seen in results.values()}
    assert len(answers) == 1
    # And partial answers were taken back on the way (about 40 % of the answers broke off part-way)
    assert restarts > 0

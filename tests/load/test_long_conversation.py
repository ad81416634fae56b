"""A 500-turn conversation of 8,000-character messages through the in-process local stack: every turn completes.

Before bounded context, the checkpoint of such a thread passed DynamoDB's 400 KB item limit at turn 16 and every
later turn failed. Now the model input and the checkpoint stay flat, and the transcript keeps everything.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.turns import checkpoint_bytes
from local.inprocess import InProcessStack
from tests.e2e.conftest import Stack, inprocess_stack

pytestmark = [pytest.mark.load, pytest.mark.e2e]

TURNS = 500
MESSAGE_CHARS = 8000  # the protocol's maximum
QUESTIONS = (
    "What is the status of order 1042?",
    "When will it arrive?",
    "How long does shipping take?",
    "Hello, a long note from me follows.",
)
SYLLABLES = ("ka", "lo", "mi", "ru", "se", "ta", "vé", "no", "pa", "di", "gu", "zo", "fe", "ni")


@pytest.fixture(scope="module")
def long_stack() -> Iterator[InProcessStack]:
    """The local stack in this process (moto's tables readable here), streaming without delay, no rate limits."""
    yield from inprocess_stack()


def message(turn: int, rng: random.Random) -> str:
    """A question padded with pseudo-words (no intent keywords, hard to compress) to exactly 8,000 characters."""
    words = [QUESTIONS[turn % len(QUESTIONS)]]
    while sum(len(w) + 1 for w in words) < MESSAGE_CHARS:
        words.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))))
    return " ".join(words)[:MESSAGE_CHARS]


def test_five_hundred_turns_of_eight_thousand_characters_all_complete(long_stack):
    # Given one thread and a customer who sends 500 messages of 8,000 characters
    client_stack = Stack(long_stack.port, None, Path(os.devnull), long_stack.secret)
    token = long_stack.token()
    thread = f"long-{time.time_ns()}"
    rng = random.Random(12)
    largest: dict[int, int] = {}
    started = time.monotonic()

    # When every message is sent and answered in turn
    with client_stack.ws(token) as client:
        for turn in range(1, TURNS + 1):
            events = client.ask(thread, message(turn, rng))
            # Then every turn completes (no error, no conversation_limit), with an answer
            assert events[-1]["type"] == "message_complete", (turn, events[-3:])
            assert any(e["type"] == "token" for e in events), turn
            if turn in (5, 16, 50, 100, 250, 500):
                largest[turn] = checkpoint_bytes(long_stack, thread)
    elapsed = time.monotonic() - started

    # And the checkpoint stayed small and flat (it passed 400 KB at turn 16 before), while replay has every turn
    assert max(largest.values()) <= 64 * 1024, largest
    assert max(largest[250], largest[500]) <= 1.3 * max(largest[5], largest[16]), largest
    user_messages, cursor, pages = 0, None, 0
    while True:
        query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
        status, page = client_stack.http("GET", f"/api/v1/sessions/{thread}/messages{query}", token)
        assert status == 200, page
        user_messages += sum(entry["role"] == "user" for entry in page["messages"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert user_messages == TURNS
    assert pages >= 5
    print(f"{TURNS} turns in {elapsed:.0f} s; largest checkpoint item by turn: {largest}")

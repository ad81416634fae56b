"""The e2e chat and approval flows on the strict local stack while AWS misbehaves as it does under load (LOCAL_FAULTS).

Each stack here is `python -m local` with faults injected at the botocore layer of every function's clients, in the
services' real error shapes: transaction conflicts, throttling of DynamoDB, Step Functions and @connections, clients
that left (GoneException). Retries must absorb the transient ones; nothing may be lost, doubled or left running.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Stack, executions, new_thread, start_stack, tokens
from tests.faults.conftest import converse_at_once, transcript, wait_for_status

pytestmark = pytest.mark.e2e

UNDER_LOAD = ",".join(
    [
        "dynamodb.TransactWriteItems=TransactionConflict@0.3",
        "dynamodb.*=ThrottlingException@0.1",
        "stepfunctions.*=ThrottlingException@0.15",
        "apigatewaymanagementapi.PostToConnection=LimitExceededException@0.15",
    ]
)
QUESTIONS = ("How long does shipping take?", "What is your return policy?")
CONVERSATIONS = 5


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Conflicts 30 %, throttling 10-15 % on DynamoDB, Step Functions and @connections."""
    yield from start_stack(tmp_path_factory, "loaded", LOCAL_FAULTS=UNDER_LOAD, LOG_LEVEL="WARNING")


@pytest.fixture(scope="module")
def leaving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Half the @connections posts find the client gone (a turn is three or more posts: a lower rate could leave six
    turns without a single loss, now that a turn's tokens coalesce into one or two frames)."""
    yield from start_stack(
        tmp_path_factory,
        "leaving",
        LOCAL_FAULTS="apigatewaymanagementapi.PostToConnection=GoneException@0.5",
        LOG_LEVEL="WARNING",
    )


def analytics(stack: Stack) -> dict[str, Any]:
    status, body = stack.http("GET", "/api/v1/analytics", stack.token("ops-faults", "operator"))
    assert status == 200, body
    return body


def converse(stack: Stack, n: int, results: dict[int, Any]) -> None:
    """Two questions and an approved address change on a thread of its own (the demo customer owns order 1043)."""
    token = stack.token("demo-customer")
    thread = new_thread(f"load-{n}")
    answers: list[str] = []
    with stack.ws(token) as client:
        for question in QUESTIONS:
            events = client.ask(thread, question, message_id=uuid.uuid4().hex)
            assert events[-1]["type"] == "message_complete", events
            answers.append(tokens(events))
        asked = client.ask(thread, "Please change the address of order 1043 to 9 Fault Lane, Springfield")
        interrupt = asked[-1]
        assert interrupt["type"] == "interrupt", asked
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        rest = client.until(lambda e: e["type"] in ("message_complete", "error"), timeout=60)
        assert rest[-1]["type"] == "message_complete", rest
        answers.append(tokens(asked) + tokens(rest))
    results[n] = {"thread": thread, "token": token, "answers": answers}


def test_every_turn_completes_under_conflicts_and_throttling_and_nothing_is_lost_or_doubled(loaded):
    before = analytics(loaded)
    # When five conversations run at once (two questions and an approval each) while AWS conflicts and throttles
    results = converse_at_once(loaded, converse, CONVERSATIONS)
    # Then every turn ended with message_complete (checked in converse), in every conversation
    stats = loaded.http("GET", "/_local/stats")[1]
    injected = stats["iam"]["faults"]
    assert sum(v for k, v in injected.items() if "TransactionConflict" in k) > 0, injected
    assert sum(v for k, v in injected.items() if "Throttling" in k or "LimitExceeded" in k) > 0, injected
    assert stats["iam"]["denied"] == []
    for seen in results.values():
        # And no thread is left running, and one execution ran per turn
        wait_for_status(loaded, seen["thread"], seen["token"], "idle", timeout=30)
        for turn in (1, 2, 3):
            assert len(executions(loaded, seen["thread"], turn)) == 1
        # And the transcript holds every exchange once, with the answers the client saw
        entries = transcript(loaded, seen["thread"], seen["token"])
        users = [e for e in entries if e["role"] == "user"]
        assert [u["content"] for u in users[:2]] == list(QUESTIONS) and len(users) == 3
        assistant = [e["content"] for e in entries if e["role"] == "assistant"]
        assert "".join(assistant) == "".join(seen["answers"])
        assert [e["approved"] for e in entries if e["role"] == "decision"] == [True]
    # And the analytics count every completed turn and every decision exactly once
    after = analytics(loaded)
    assert after["turns"] - before["turns"] == 3 * CONVERSATIONS
    assert after["sessions"] - before["sessions"] == CONVERSATIONS
    assert after["interrupts"]["approved"] - before["interrupts"]["approved"] == CONVERSATIONS
    assert after["interrupts"]["requested"] - before["interrupts"]["requested"] == CONVERSATIONS


def test_a_client_that_keeps_leaving_still_gets_the_whole_answer_from_resume_or_replay(leaving, fault_stack):
    # Given the answer a stack gives when nothing goes wrong
    with fault_stack.ws() as client:
        expected = tokens(client.ask(new_thread("reference"), QUESTIONS[0]))
    assert expected
    token = leaving.token("c-leaver")
    gone_before = leaving.http("GET", "/_local/stats")[1]["iam"]["faults"]
    threads = [new_thread("gone") for _ in range(6)]
    with leaving.ws(token) as client:
        # When frames to the client are lost to GoneException during six turns
        for thread in threads:
            client.send({"type": "message", "thread_id": thread, "content": QUESTIONS[0]})
            client.quiet(0.3)
            wait_for_status(leaving, thread, token, "idle", timeout=30)
    gone_after = leaving.http("GET", "/_local/stats")[1]["iam"]["faults"]
    assert sum(gone_after.values()) > sum(gone_before.values())
    # Then every answer was saved whole, and a resume or a replay gets it
    with leaving.ws(token) as again:
        for thread in threads:
            again.send({"type": "resume", "thread_id": thread})
            status = again.until(lambda e: e["type"] == "status")[-1]
            assert status["status"] == "idle"
            entries = transcript(leaving, thread, token)
            assert [e["role"] for e in entries] == ["user", "assistant"]
            assert entries[-1]["content"] == expected


def test_a_missing_permission_is_access_denied_as_in_aws(tmp_path_factory):
    # Given a stack whose message function lost states:StartExecution from its translated policy
    stacks = start_stack(tmp_path_factory, "revoked", LOCAL_IAM_REVOKE="MessageFunction:states:StartExecution")
    revoked = next(stacks)
    try:
        token = revoked.token("c-revoked")
        thread = new_thread("denied")
        with revoked.ws(token) as client:
            # When a message would start a turn
            events = client.ask(thread, QUESTIONS[0])
        # Then the call is refused as AWS refuses it, the client gets an internal error, and the thread is idle again
        assert events[-1]["type"] == "error" and events[-1]["code"] == "internal_error"
        denied = revoked.http("GET", "/_local/stats")[1]["iam"]["denied"]
        assert {
            "principal": "MessageFunction",
            "action": "states:StartExecution",
            "resource": "arn:aws:states:us-east-1:123456789012:stateMachine:smart-support-local-turn",
        } in denied
        log = revoked.log()
        assert "AccessDeniedException" in log
        assert (
            "assumed-role/MessageFunctionRole/MessageFunction is not authorized to perform: states:StartExecution"
            in log
        )
        wait_for_status(revoked, thread, token, "idle")
    finally:
        next(stacks, None)


def test_a_thread_id_after_ttl_deleted_its_session_belongs_to_its_owner_only(tmp_path_factory):
    stacks = start_stack(tmp_path_factory, "ttl", SESSION_TTL_SECONDS="2", TTL_SWEEP_SECONDS="1")
    short = next(stacks)
    try:
        owner, other = short.token("c-ttl-owner"), short.token("c-ttl-other")
        thread = new_thread("ttl")
        with short.ws(owner) as client:
            assert client.ask(thread, QUESTIONS[0])[-1]["type"] == "message_complete"
        # Given DynamoDB's TTL deleted the session (the sweeper runs every second)
        deadline = time.monotonic() + 20
        while short.http("GET", f"/api/v1/sessions/{thread}", owner)[0] != 404 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert short.http("GET", f"/api/v1/sessions/{thread}", owner)[0] == 404
        assert short.http("GET", "/_local/stats")[1]["ttl_deleted"] > 0
        # When another customer uses the thread id, they see nothing of the old conversation and cannot continue it
        assert short.http("GET", f"/api/v1/sessions/{thread}/messages", other)[0] == 404
        with short.ws(other) as client:
            refused = client.ask(thread, "Show me what was said here")
        assert refused[-1]["type"] == "error" and refused[-1]["code"] == "not_found"
        # And the owner starts cleanly on the same id: a new incarnation whose turns follow the kept transcript's, its
        # own execution, the old transcript kept
        with short.ws(owner) as client:
            assert client.ask(thread, QUESTIONS[1])[-1]["type"] == "message_complete"
        first, second = executions(short, thread, 1), executions(short, thread, 2)
        assert len(first) == len(second) == 1 and first[0]["name"].split("-")[-2] != second[0]["name"].split("-")[-2]
        roles = [e["role"] for e in transcript(short, thread, owner)]
        assert roles == ["user", "assistant", "user", "assistant"]
    finally:
        next(stacks, None)

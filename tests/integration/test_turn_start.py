"""The message route's domain on moto: one execution per turn, idempotent retries, rollback on failure."""

import json
import time

import boto3
import pytest

from smart_support.auth.tokens import Principal
from smart_support.store.analytics import AnalyticsStore
from smart_support.store.approvals import ApprovalStore
from smart_support.store.handoffs import HandoffStore
from smart_support.store.sessions import SessionStore
from smart_support.store.sessions.start import new_incarnation
from smart_support.store.tickets import TicketStore
from smart_support.store.transcript import TranscriptStore
from smart_support.turns.chat import ChatService, FrameContext
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.handoff import HandoffService
from smart_support.turns.stepfunctions import TurnWorkflow, execution_name
from tests.integration.conftest import NoSender

TABLE = "ConversationsTable"


def chat_service(dynamodb, sessions, workflow, sender=None) -> ChatService:
    """The message route's service wired to moto tables."""
    sender = sender or NoSender()
    store = ApprovalStore(TABLE, dynamodb)
    tickets = TicketStore(TABLE, dynamodb)
    approvals = ApprovalService(store, sessions, workflow, AnalyticsStore(TABLE, dynamodb))
    handoff = HandoffService(sessions, tickets, HandoffStore(TABLE, 1800, tickets, dynamodb), sender)
    return ChatService(
        sessions,
        workflow,
        lambda: approvals,
        lambda: store,
        sender,
        TranscriptStore(TABLE, dynamodb),
        lambda: handoff,
    )


@pytest.fixture
def chat(dynamodb, sfn):
    client, arn = sfn
    sessions = SessionStore(TABLE, 1800, dynamodb)
    return chat_service(dynamodb, sessions, TurnWorkflow(arn, client)), sessions


CTX = FrameContext("conn-1", Principal(sub="demo-customer"), "req-1")


def executions(sfn):
    client, arn = sfn
    return client.list_executions(stateMachineArn=arn)["executions"]


def test_a_message_starts_one_named_execution_with_the_turn(chat, sfn):
    service, sessions = chat
    reply = service.handle(json.dumps({"type": "message", "thread_id": "t-1", "content": "hello"}), CTX)
    assert reply is None
    runs = executions(sfn)
    assert [r["name"] for r in runs] == [execution_name("t-1", sessions.get("t-1").incarnation, 1)]
    client, _ = sfn
    payload = json.loads(client.describe_execution(executionArn=runs[0]["executionArn"])["input"])
    assert payload["turn"]["thread_id"] == "t-1" and payload["turn"]["turn"] == 1
    assert payload["turn"]["owner"] == "demo-customer" and payload["turn"]["content"] == "hello"
    assert sessions.get("t-1").status == "running"
    # and the question is in the transcript before the agent answers (a reload mid-answer shows it)
    replay, _ = TranscriptStore(TABLE, boto3.client("dynamodb", region_name="us-east-1")).page("t-1", 0)
    assert [(m["role"], m["content"], m["turn"]) for m in replay] == [("user", "hello", 1)]


def test_a_retried_frame_starts_nothing_twice(chat, sfn):
    service, _ = chat
    body = json.dumps({"type": "message", "thread_id": "t-1", "content": "hello", "message_id": "m-1"})
    # Given a frame that started a turn
    assert service.handle(body, CTX) is None
    # When it comes again
    reply = service.handle(body, CTX)
    # Then it is acknowledged with the thread's status, and no second execution starts
    assert (reply["type"], reply["status"], reply["turn"], reply["queued"]) == ("status", "running", 1, 0)
    assert len(executions(sfn)) == 1


def test_messages_while_running_are_queued_up_to_three_then_busy(chat, sfn):
    service, sessions = chat
    # Given a running turn
    service.handle(json.dumps({"type": "message", "thread_id": "t-1", "content": "one"}), CTX)
    # When three more messages arrive, and a retried one, and a fourth
    replies = [
        service.handle(json.dumps({"type": "message", "thread_id": "t-1", "content": c, "message_id": f"m-{c}"}), CTX)
        for c in ("two", "three", "three", "four", "five")
    ]
    # Then three wait (the retry is not stored twice), the fifth is thread_busy, and no execution started
    assert [(r["type"], r.get("queued")) for r in replies[:4]] == [
        ("status", 1),
        ("status", 2),
        ("status", 2),
        ("status", 3),
    ]
    assert replies[0]["status"] == "running"
    assert replies[4]["type"] == "error" and replies[4]["code"] == "thread_busy"
    assert len(executions(sfn)) == 1
    session = sessions.get("t-1")
    assert [q.content for q in session.queued] == ["two", "three", "four"]
    # And they are in the transcript already, in order, as part of the next turn (after the running turn's question)
    entries, _ = TranscriptStore(TABLE, sessions._dynamodb).page("t-1", time.time())
    assert [(e["turn"], e["content"]) for e in entries] == [(1, "one"), (2, "two"), (2, "three"), (2, "four")]


def test_a_finished_turn_with_queued_messages_advances_instead_of_going_idle(chat):
    service, sessions = chat
    service.handle(json.dumps({"type": "message", "thread_id": "t-q", "content": "hi"}), CTX)
    service.handle(json.dumps({"type": "message", "thread_id": "t-q", "content": "my order"}), CTX)
    service.handle(json.dumps({"type": "message", "thread_id": "t-q", "content": "it's 1042"}), CTX)
    # When turn 1 tries to return the thread to idle
    assert sessions.finish_turn("t-q", 1) is None
    # Then the queued messages become turn 2, running, and the queue is empty
    advanced, taken = sessions.advance("t-q", 1)
    assert (advanced.turn, advanced.status, advanced.queued) == (2, "running", [])
    assert [q.content for q in taken] == ["my order", "it's 1042"]
    # And turn 2 can finish normally
    assert sessions.finish_turn("t-q", 2).status == "idle"
    assert sessions.advance("t-q", 2) is None


def test_cancel_marks_the_running_turn_and_is_a_no_op_when_idle(chat):
    service, sessions = chat
    idle = service.handle(json.dumps({"type": "cancel", "thread_id": "t-c"}), CTX)
    assert idle["code"] == "not_found"
    service.handle(json.dumps({"type": "message", "thread_id": "t-c", "content": "hi"}), CTX)
    assert sessions.cancel_requested("t-c", 1) is False
    assert service.handle(json.dumps({"type": "cancel", "thread_id": "t-c"}), CTX) is None
    assert sessions.cancel_requested("t-c", 1) is True
    sessions.finish_turn("t-c", 1)
    reply = service.handle(json.dumps({"type": "cancel", "thread_id": "t-c"}), CTX)
    assert (reply["type"], reply["status"]) == ("status", "idle")
    assert sessions.get("t-c").cancel_turn is None


def test_execution_names_are_valid_and_distinct():
    incarnations = (new_incarnation(1_800_000_000.0), new_incarnation(4_000_000_000.5))
    names = {execution_name(t, i, n) for t in ("a", "b", "x" * 128, "a:b.c") for i in incarnations for n in (1, 999999)}
    assert len(names) == 16
    assert all(len(n) <= 80 and n.replace("-", "").replace("_", "").isalnum() for n in names)


def test_a_failed_start_returns_the_thread_to_idle(dynamodb, caplog):
    # Given a workflow whose state machine does not exist
    sessions = SessionStore(TABLE, 1800, dynamodb)
    client = boto3.client("stepfunctions", region_name="us-east-1")
    workflow = TurnWorkflow("arn:aws:states:us-east-1:123456789012:stateMachine:missing", client)
    service = chat_service(dynamodb, sessions, workflow)
    # When a message arrives
    reply = service.handle(json.dumps({"type": "message", "thread_id": "t-1", "content": "hi"}), CTX)
    # Then the client hears a generic internal error with a request id, and the thread is usable again
    assert reply is not None and reply["code"] == "internal_error" and reply["request_id"] == "req-1"
    assert "missing" not in str(reply["message"])
    session = sessions.get("t-1")
    assert session is not None and session.status == "idle"
    # and the same request id is in the log record with the real cause
    failure = next(r for r in caplog.records if r.getMessage() == "frame failed")
    assert failure.request_id == "req-1" and failure.exc_info is not None


def test_ping_and_unknown_frames_answer_on_the_same_connection(chat):
    service, _ = chat
    assert service.handle('{"type":"ping"}', CTX) == {"type": "pong"}
    assert service.handle("{", CTX)["code"] == "invalid_json"


def test_resume_of_an_unknown_thread_is_not_found(chat):
    service, _ = chat
    assert service.handle('{"type":"resume","thread_id":"nope"}', CTX)["code"] == "not_found"


def test_interrupt_response_without_pending_approval(chat):
    service, _ = chat
    service.handle(json.dumps({"type": "message", "thread_id": "t-1", "content": "hi"}), CTX)
    reply = service.handle('{"type":"interrupt_response","thread_id":"t-1","interrupt_id":"i-1","approved":true}', CTX)
    assert reply["code"] == "no_pending_interrupt"

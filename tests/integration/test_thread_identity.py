"""A thread id after its session is gone (DynamoDB TTL): the owner starts anew cleanly, nobody else can."""

from __future__ import annotations

import json
import time

import pytest

from local.ttl import sweep_expired
from smart_support.auth.tokens import Principal
from smart_support.protocol.errors import NotFound
from smart_support.store.sessions import SessionStore
from smart_support.store.transcript import TRANSCRIPT_RETENTION_SECONDS
from smart_support.turns.chat import ChatService, FrameContext
from smart_support.turns.stepfunctions import TurnWorkflow
from tests.integration.conftest import NoSender
from tests.integration.test_turn_start import chat_service

TABLE = "ConversationsTable"
OWNER, OTHER = "demo-customer", "c-2001"


@pytest.fixture
def chat(dynamodb, sfn):
    client, arn = sfn
    sessions = SessionStore(TABLE, 60, dynamodb)
    return chat_service(dynamodb, sessions, TurnWorkflow(arn, client), NoSender()), sessions


def say(service: ChatService, thread_id: str, who: str = OWNER) -> dict | None:
    ctx = FrameContext("conn-1", Principal(sub=who), "req-1")
    return service.handle(json.dumps({"type": "message", "thread_id": thread_id, "content": "hello"}), ctx)


def expire_session(sessions: SessionStore, thread_id: str) -> None:
    """The turn ended, the session's TTL passed, and DynamoDB's TTL process deleted it."""
    session = sessions.get(thread_id)
    assert session is not None
    idle = sessions.finish_turn(thread_id, session.turn, now=session.expires_at - 3600)
    assert idle is not None
    sweep_expired(now=idle.expires_at + 1)
    assert sessions.get(thread_id) is None


def test_a_thread_id_used_again_after_its_session_was_deleted_starts_a_new_execution(chat, sfn):
    service, sessions = chat
    client, arn = sfn
    assert say(service, "again") is None
    first = sessions.get("again")
    expire_session(sessions, "again")
    # When the owner sends a message on the same thread id
    assert say(service, "again") is None
    # Then a new conversation incarnation starts, its turns after the kept transcript's, with its own execution
    second = sessions.get("again")
    assert second is not None and first is not None
    assert (second.turn, second.status) == (first.turn + 1, "running")
    assert second.incarnation and second.incarnation != first.incarnation
    names = [e["name"] for e in client.list_executions(stateMachineArn=arn)["executions"]]
    assert len(names) == len(set(names)) == 2


def test_another_owner_never_takes_over_a_thread_id_whose_transcript_is_kept(chat):
    service, sessions = chat
    say(service, "mine")
    expire_session(sessions, "mine")
    # When another customer uses the same thread id after the session is gone
    reply = say(service, "mine", who=OTHER)
    # Then it is not found, exactly like a thread that never existed, and nothing was created for them
    assert reply is not None and reply["type"] == "error" and reply["code"] == "not_found"
    assert sessions.get("mine") is None
    with pytest.raises(NotFound):
        sessions.check_owner("mine", OTHER)
    sessions.check_owner("mine", OWNER)  # the owner may still replay it
    # And the owner can carry on
    assert say(service, "mine") is None


def test_a_brand_new_thread_records_its_owner_with_the_session(chat, dynamodb):
    service, _ = chat
    say(service, "fresh")
    owner = dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": "THREAD#fresh"}, "SK": {"S": "OWNER"}})["Item"]
    assert owner["owner"] == {"S": OWNER}
    # the ownership record lives at least as long as any transcript item the thread writes
    assert int(owner["expires_at"]["N"]) >= time.time() + TRANSCRIPT_RETENTION_SECONDS

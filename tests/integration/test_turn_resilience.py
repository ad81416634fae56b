"""The agent task under what AWS really does: conflicts, throttles, retried tasks, long approval chains (moto)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import boto3
import pytest

from local.moto_patches.item_locks import LOCKS
from smart_support.agent.graph import build_checkpointer
from smart_support.agent.interrupts import MAX_APPROVALS_PER_TURN
from smart_support.agent.retry import ThrottlingError
from smart_support.agent.runner import TurnRunner
from smart_support.aws import TransientError
from smart_support.clock import iso
from smart_support.settings import AgentSettings
from smart_support.store.analytics import AnalyticsStore
from smart_support.store.approvals import AlreadyFinal, ApprovalStore
from smart_support.store.deliveries import DeliveryStore
from smart_support.store.sessions import SessionStore
from smart_support.store.transcript import TranscriptEntry, TranscriptStore, question_item
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import AgentTask, AwaitApprovalTask, Decision, InterruptInfo, TurnRequest
from smart_support.turns.stepfunctions import TurnWorkflow
from smart_support.turns.tasks import WorkflowTasks
from tests.aws_faults import injected
from tests.integration.agent_turns import DEMO, RecordingSender, make_graph, make_saver

TABLE = "ConversationsTable"
QUESTION = "How long does shipping take?"


def runner_on(dynamodb: Any, graph: Any, **extra: Any) -> tuple[TurnRunner, SessionStore, RecordingSender]:
    """The agent task's runner over `graph` on the moto tables, with a sender that records what the client got."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    sessions = SessionStore(TABLE, 1800, dynamodb)
    approvals = ApprovalService(
        ApprovalStore(TABLE, dynamodb), sessions, TurnWorkflow("arn:none", sfn), AnalyticsStore(TABLE, dynamodb)
    )
    sender = RecordingSender()
    return TurnRunner(graph, sessions, approvals, sender, flush_ms=0, **extra), sessions, sender


@pytest.fixture
def world(dynamodb, orders):
    saver = make_saver()
    runner, sessions, sender = runner_on(
        dynamodb, make_graph(dynamodb, saver), deliveries=DeliveryStore(TABLE, dynamodb)
    )
    return runner, sessions, sender, dynamodb, saver


def start(sessions: SessionStore, thread_id: str, content: str = QUESTION, owner: str = DEMO) -> AgentTask:
    """The message route's part (the session running turn n, the question stored); the task the agent gets."""
    session = sessions.begin_turn(thread_id, owner, "conn-1")
    now = time.time()
    question = question_item(thread_id, session.turn, {"role": "user", "content": content, "at": iso(now)}, now)
    TranscriptStore(TABLE, sessions._dynamodb).put(question)
    turn = TurnRequest(
        thread_id=thread_id,
        turn=session.turn,
        owner=owner,
        content=content,
        connection_id="conn-1",
        started_at=time.time(),
        incarnation=session.incarnation,
    )
    return AgentTask(task="run", turn=turn)


def saved(dynamodb, thread_id: str) -> list[TranscriptEntry]:
    return TranscriptStore(TABLE, dynamodb).page(thread_id, time.time(), limit=200)[0]


def test_a_conflicted_end_of_turn_write_is_retried_and_the_thread_ends_idle(world):
    runner, sessions, sender, dynamodb, _ = world
    task = start(sessions, "conflict-1")
    # Given DynamoDB cancels the turn's final transaction with a TransactionConflict, as it does under contention
    with injected("dynamodb", "TransactWriteItems", "TransactionConflict", times=2) as fault:
        # When the agent finishes the turn
        result = runner.handle(task)
    # Then the write was retried (not dropped): the thread is idle, the transcript saved once, one message_complete
    assert fault.hits == 2
    assert result["outcome"] == "complete"
    assert sessions.get("conflict-1").status == "idle"
    assert [e["role"] for e in saved(dynamodb, "conflict-1")] == ["user", "assistant"]
    assert sender.types().count("message_complete") == 1


def test_a_thread_that_moved_on_keeps_the_transcript_and_leaves_the_session_alone(world):
    runner, sessions, _, dynamodb, _ = world
    task = start(sessions, "moved-1")
    # Given the session is no longer on this turn (a newer incarnation of the thread took it over)
    dynamodb.update_item(
        TableName=TABLE,
        Key={"PK": {"S": "THREAD#moved-1"}, "SK": {"S": "SESSION"}},
        UpdateExpression="SET turn = :t",
        ExpressionAttributeValues={":t": {"N": "7"}},
    )
    # When the old turn finishes
    runner.handle(task)
    # Then its transcript is kept and the newer state is untouched (still running turn 7)
    assert [e["role"] for e in saved(dynamodb, "moved-1")] == ["user", "assistant"]
    session = sessions.get("moved-1")
    assert (session.turn, session.status) == (7, "running")


def test_throttling_that_outlasts_the_retries_fails_the_task_for_the_state_machine_to_retry(world):
    runner, sessions, _, _, _ = world
    task = start(sessions, "throttled-1")
    with injected("dynamodb", "TransactWriteItems", "ThrottlingError", times=None), pytest.raises(TransientError):
        runner.handle(task)
    # the session was not quietly abandoned as running-forever by a write that dropped its update
    assert sessions.get("throttled-1").status == "running"
    assert issubclass(ThrottlingError, TransientError)


def test_no_item_is_written_by_every_turn_of_every_thread_and_counts_stay_exact(world):
    runner, sessions, _, dynamodb, _ = world
    analytics = AnalyticsStore(TABLE, dynamodb)
    before_counts = analytics.summary()
    before = Counter(LOCKS.writes)
    threads = [f"hot-{i}" for i in range(8)]
    # When one turn runs on each of 8 threads
    for thread_id in threads:
        runner.handle(start(sessions, thread_id))
    writes = Counter(LOCKS.writes) - before
    # Then no single item received a write from every turn (a hot item caps the whole service)
    assert max(writes.values()) < len(threads), writes.most_common(3)
    # And the analytics still count every turn exactly once
    after = analytics.summary()
    assert after["turns"] - before_counts["turns"] == len(threads)
    assert after["sessions"] - before_counts["sessions"] == len(threads)


def test_a_retried_run_after_a_failed_final_write_sends_no_token_twice(world):
    runner, sessions, sender, dynamodb, saver = world
    task = start(sessions, "retry-1")
    # Given the first attempt streamed the whole answer, then its final write failed past every retry
    with injected("dynamodb", "TransactWriteItems", "ThrottlingError", times=None), pytest.raises(TransientError):
        runner.handle(task)
    first = sender.text()
    assert first
    seen = len(sender.events)
    # When the state machine retries the task (same payload, RetryCount 1)
    result = runner.handle(task.model_copy(update={"attempt": 1}))
    # Then the retry sends no token the client already has, and ends the turn once
    assert result["outcome"] == "complete"
    assert sender.text(seen) == ""
    assert sender.types(seen) == ["message_complete"]
    # And the transcript and the agent's memory hold the exchange once
    assert [e["role"] for e in saved(dynamodb, "retry-1")] == ["user", "assistant"]
    assert saved(dynamodb, "retry-1")[-1]["content"] == first
    config = {"configurable": {"thread_id": runner.checkpoint_thread(task.turn)}}
    humans = [m for m in make_graph(dynamodb, saver).get_state(config).values["messages"] if m.type == "human"]
    assert len(humans) == 1
    assert sessions.get("retry-1").status == "idle"


def test_a_retried_run_after_a_failed_checkpoint_resends_nothing_it_already_sent(world):
    runner, sessions, sender, dynamodb, _ = world
    task = start(sessions, "retry-2")
    # Given the answer streamed, then saving the checkpoint was throttled past the SDK's retries
    with (
        injected("dynamodb", "PutItem", "ThrottlingException", times=None, match="CheckpointsTable"),
        pytest.raises(TransientError),
    ):
        runner.handle(task)
    first = sender.text()
    seen = len(sender.events)
    # When the task is retried
    result = runner.handle(task.model_copy(update={"attempt": 1}))
    # Then the answer the client has is not streamed again, and the turn ends once
    assert result["outcome"] == "complete"
    assert first and sender.text(seen) == ""
    assert sender.types(seen).count("message_complete") == 1
    assert [e["role"] for e in saved(dynamodb, "retry-2")] == ["user", "assistant"]


def test_one_turn_asks_for_at_most_five_approvals(world, orders):
    runner, sessions, sender, _, _ = world
    task = start(sessions, "many-approvals", "Please cancel order 1043")
    # Given this turn already asked for five approvals
    task = task.model_copy(update={"approvals": MAX_APPROVALS_PER_TURN})
    # When the agent asks for a sixth
    result = runner.handle(task)
    # Then the turn ends cleanly with a message instead of a sixth approval, and nothing was changed
    assert result["outcome"] == "complete"
    assert "interrupt" not in sender.types()
    assert sender.types()[-1] == "message_complete"
    assert "approvals" in sender.text().lower()
    assert orders.get_for_customer("1043", DEMO).status == "processing"
    assert sessions.get("many-approvals").status == "idle"


def test_an_interrupted_run_reports_how_many_approvals_the_turn_asked_for(world):
    runner, sessions, _, _, _ = world
    result = runner.handle(start(sessions, "count-approvals", "Please cancel order 1043"))
    assert result["outcome"] == "interrupted"
    assert result["approvals"] == 1


def test_checkpoints_outlive_the_session_ttl_plus_the_approval_timeout(dynamodb, orders):
    settings = AgentSettings.model_validate(
        {
            "session_ttl_seconds": 1800,
            "approval_timeout_seconds": 900,
            "conversations_table": "ConversationsTable",
            "checkpoints_table": "CheckpointsTable",
            "orders_table": "OrdersTable",
            "websocket_endpoint": "http://127.0.0.1:9/local",
            "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:none",
        }
    )
    graph = make_graph(dynamodb, build_checkpointer(settings))
    now = time.time()
    payload = {"messages": [("user", QUESTION)], "customer_id": DEMO, "thread_id": "ttl-1"}
    list(graph.stream(payload, {"configurable": {"thread_id": "ttl-1"}}, durability="exit"))
    ttls = [int(i["ttl"]["N"]) for i in dynamodb.scan(TableName="CheckpointsTable")["Items"] if "ttl" in i]
    assert ttls and min(ttls) >= now + 1800 + 900 - 5


def test_a_slow_await_approval_never_parks_a_turn_its_timeout_already_finished(world):
    # Given a turn that asked to cancel 1043 (the agent returned the interrupt)
    runner, sessions, sender, dynamodb, _ = world
    task = start(sessions, "t-slow-wait", "Please cancel order 1043")
    outcome = runner.handle(task)
    assert outcome["outcome"] == "interrupted"
    store = ApprovalStore(TABLE, dynamodb)
    tasks = WorkflowTasks(store, sessions, sender, AnalyticsStore(TABLE, dynamodb), approval_timeout_seconds=1)
    info = InterruptInfo.model_validate(outcome["interrupt"])
    # And the workflow's wait already timed out and the resumed run finished the turn (the thread is idle)
    runner.handle(
        AgentTask(
            task="resume",
            turn=task.turn,
            interrupt=info,
            decision=Decision(approved=False, decided_by="timeout"),
            approvals=1,
        )
    )
    assert sessions.get("t-slow-wait").status == "idle"
    sent = len(sender.events)
    # When the AwaitApproval task (slow: throttled, or a Lambda still running after its state timed out) gets there
    late = AwaitApprovalTask(task="await_approval", task_token="late-token", turn=task.turn, interrupt=info)
    with pytest.raises(AlreadyFinal):
        tasks.await_approval(late)
    # Then the thread stays idle, nothing is pending, and the customer is not asked about a closed approval
    session = sessions.get("t-slow-wait")
    assert session is not None and session.status == "idle"
    record = store.decision_of(info.interrupt_id)
    assert store.get(info.interrupt_id) is None and record is not None and record["outcome"] == "expired"
    assert "interrupt" not in sender.types(sent)


def test_a_slow_mark_after_the_turn_ended_leaves_the_thread_idle(world):
    runner, sessions, _, _, _ = world
    task = start(sessions, "t-slow-mark")
    runner.handle(task)
    assert sessions.get("t-slow-mark").status == "idle"
    # a registration that got in before the timeout, and a session update that arrives after the turn ended
    assert sessions.mark_awaiting_approval("t-slow-mark", task.turn.turn, "i-late", time.time() + 60) is None
    assert sessions.get("t-slow-mark").status == "idle"

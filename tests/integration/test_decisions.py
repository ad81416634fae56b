"""Deciding an approval under AWS's failures, against a real waiting Step Functions task (moto): never half-done."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from smart_support.auth.tokens import Principal
from smart_support.protocol.errors import ApprovalAlreadyDecided
from smart_support.store.analytics import AnalyticsStore
from smart_support.store.approvals import AlreadyFinal, ApprovalStore, PendingApproval
from smart_support.store.dynamodb import is_transient_failure
from smart_support.store.sessions import SessionStore
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import Decision
from smart_support.turns.policy import args_hash
from smart_support.turns.stepfunctions import TurnWorkflow
from tests.aws_faults import injected

TABLE = "ConversationsTable"
CUSTOMER = Principal(sub="demo-customer")


@pytest.fixture
def waiting(dynamodb) -> Iterator[tuple]:
    """A Step Functions execution waiting on a task token (delivered through SQS), like AwaitApproval."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    arn = sfn.create_state_machine(
        name="wait", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="e-1", input="{}")["executionArn"]
    token = None
    for _ in range(200):
        messages = sqs.receive_message(QueueUrl=url).get("Messages")
        if messages:
            token = json.loads(messages[0]["Body"])["token"]
            break
        time.sleep(0.02)
    assert token
    sessions = SessionStore(TABLE, 1800, dynamodb)
    session = sessions.begin_turn("t-1", CUSTOMER.sub, "conn-1")
    store = ApprovalStore(TABLE, dynamodb)
    now = time.time()
    pending = PendingApproval(
        interrupt_id="i-1",
        thread_id="t-1",
        turn=session.turn,
        owner=CUSTOMER.sub,
        action="cancel_order",
        args={"order_id": "1043"},
        args_hash=args_hash({"order_id": "1043"}),
        description="Cancel order 1043",
        approver="customer",
        requested_at=now,
        deadline=now + 600,
        task_token=token,
    )
    store.register(pending)
    sessions.mark_awaiting_approval("t-1", session.turn, "i-1", pending.deadline)
    analytics = AnalyticsStore(TABLE, dynamodb)
    service = ApprovalService(store, sessions, TurnWorkflow(arn, sfn), analytics)
    yield service, store, sfn, execution, analytics


def execution_status(sfn, execution: str) -> str:
    for _ in range(100):
        status = sfn.describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.02)
    return "RUNNING"


def test_a_failed_send_task_success_leaves_the_approval_pending_and_unaudited(waiting):
    service, store, sfn, execution, _ = waiting
    # Given Step Functions throttles SendTaskSuccess past the SDK's retries
    with injected("stepfunctions", "SendTaskSuccess", "ThrottlingException", times=None), pytest.raises(ClientError):
        service.decide("i-1", CUSTOMER, approved=True)
    # Then nothing says approved, and the approval is still pending and decidable
    assert store.decision_of("i-1") is None
    assert store.get("i-1") is not None
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    # And deciding again works, exactly once
    service.decide("i-1", CUSTOMER, approved=True)
    assert store.decision_of("i-1")["outcome"] == "approved"
    assert execution_status(sfn, execution) == "SUCCEEDED"


def test_a_throttled_or_conflicted_claim_is_retried_not_told_expired(waiting):
    service, store, _, _, analytics = waiting
    # Given DynamoDB throttles and conflicts on the writes that close the approval
    with (
        injected("dynamodb", "UpdateItem", "TransactionConflict", times=2, match="i-1"),
        injected("dynamodb", "TransactWriteItems", "ThrottlingError", times=2),
    ):
        # When the customer decides
        service.decide("i-1", CUSTOMER, approved=True)
    # Then the decision went through once: audited, counted
    assert store.decision_of("i-1")["outcome"] == "approved"
    assert analytics.summary()["interrupts"]["approved"] == 1


def test_an_audit_write_that_fails_fails_the_decision_and_nothing_reaches_the_workflow(waiting):
    service, store, sfn, execution, analytics = waiting
    # Given every transaction that would record the decision is throttled past the retries
    with injected("dynamodb", "TransactWriteItems", "ThrottlingError", times=None), pytest.raises(Exception) as failed:
        # When the customer decides
        service.decide("i-1", CUSTOMER, approved=False, comment="no thanks")
    # Then the decider is told it failed (retryable), the workflow still waits, nothing is audited, still pending
    assert is_transient_failure(failed.value)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert store.decision_of("i-1") is None
    assert [p.interrupt_id for p in store.list_pending(time.time())[0]] == ["i-1"]
    # And once DynamoDB is back the same decision goes through, exactly once
    service.decide("i-1", CUSTOMER, approved=False, comment="no thanks")
    assert execution_status(sfn, execution) == "SUCCEEDED"
    assert store.decision_of("i-1")["outcome"] == "rejected"
    assert analytics.summary()["interrupts"]["rejected"] == 1


def test_a_finalize_that_fails_after_the_workflow_has_it_is_done_by_the_resumed_run(waiting):
    service, store, sfn, execution, analytics = waiting
    # Given the transaction that makes the record final fails (the one that records it succeeds)
    with injected("dynamodb", "TransactWriteItems", "ThrottlingError", times=None, match='"final"'):
        pending, decision = service.decide("i-1", CUSTOMER, approved=False, comment="no thanks")
    # Then the decision was accepted (it is durably the one the workflow resumes with) and hidden from the queue
    assert execution_status(sfn, execution) == "SUCCEEDED"
    record = store.decision_of("i-1")
    assert record["state"] == "accepted" and record["outcome"] == "rejected" and record["comment"] == "no thanks"
    assert store.list_pending(time.time())[0] == []
    # And the resumed run makes it final, exactly once however often it is told
    assert service.resolve(pending.subject(), decision) == decision
    service.resolve(pending.subject(), decision)
    assert store.decision_of("i-1")["state"] == "final"
    assert analytics.summary()["interrupts"]["rejected"] == 1


def test_the_timeout_corrects_a_decision_that_lost_the_race(waiting):
    service, store, _, _, analytics = waiting
    pending = store.get("i-1")
    assert pending is not None
    # Given a decider recorded an approval but the workflow's wait timed out before it arrived
    approve = Decision(approved=True, decided_by="customer", outcome="approved", args={"order_id": "1043"})
    store.record(pending, approve, "lease-1", time.time())
    # When the workflow resumes with the timeout
    service.resolve(pending.subject(), Decision(approved=False, decided_by="timeout"))
    # Then the audit says what ran: expired, nothing approved; the late decider cannot take it back
    record = store.decision_of("i-1")
    assert record["outcome"] == "expired" and record["state"] == "final" and record["approved"] is False
    store.unrecord(pending, "lease-1")
    assert store.decision_of("i-1")["outcome"] == "expired"
    assert analytics.summary()["interrupts"] == {"requested": 0, "approved": 0, "rejected": 0, "expired": 1}


def test_an_id_with_a_final_decision_is_never_registered_again(waiting):
    service, store, _, _, _ = waiting
    pending = store.get("i-1")
    assert pending is not None
    service.decide("i-1", CUSTOMER, approved=False)
    # When the same id is asked again (a new task token)
    with pytest.raises(AlreadyFinal) as final:
        store.register(pending.model_copy(update={"task_token": "another"}))
    # Then it is refused, and the one decision stands
    assert final.value.record["outcome"] == "rejected"
    assert store.get("i-1") is None
    assert store.list_pending(time.time())[0] == []


def test_an_expire_that_conflicts_still_audits(waiting):
    service, store, _, _, analytics = waiting
    pending = store.get("i-1")
    assert pending is not None
    with injected("dynamodb", "TransactWriteItems", "TransactionConflict", times=3):
        assert service.expire(pending) is True
    assert store.decision_of("i-1")["outcome"] == "expired"
    assert analytics.summary()["interrupts"]["expired"] == 1
    assert service.expire(pending) is False


def test_a_decision_after_another_reached_the_workflow_is_already_decided(waiting):
    service, _, _, _, _ = waiting
    service.decide("i-1", CUSTOMER, approved=True)
    with pytest.raises(ApprovalAlreadyDecided):
        service.decide("i-1", Principal(sub="ops-1", role="operator"), approved=False)


def test_a_deciders_late_update_never_marks_a_finished_turn_running(waiting, dynamodb):
    service, _, _, _, _ = waiting
    sessions = service.sessions
    session = sessions.get("t-1")
    assert session is not None
    # Given the resumed run already finished the turn (the thread is idle)
    assert sessions.end_run("t-1", session.turn, [], {}, finished=True, now=time.time())
    # When the decider's "running again" update arrives late
    late = sessions.mark_running("t-1", session.turn, "i-1", awaiting_only=True)
    # Then it changes nothing
    after = sessions.get("t-1")
    assert late is None and after is not None and after.status == "idle"

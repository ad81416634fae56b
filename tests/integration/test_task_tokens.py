"""local/moto_patches/task_tokens.py against AWS: a task token answers once, never after its task ended.

Step Functions API reference, SendTaskSuccess, Errors: `TaskTimedOut` — "The task token has either expired or the
task associated with the token has already been closed." Unpatched moto 5.2.5 answers both cases with success.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.moto_patches import task_tokens


def waiting_execution(timeout_seconds: int) -> tuple[Any, str, str]:
    """An execution waiting on a task token (delivered through SQS), with the wait's TimeoutSeconds."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"tokens-{timeout_seconds}")["QueueUrl"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": timeout_seconds,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
                "Next": "Linger",
            },
            "TimedOut": {"Type": "Pass", "Result": "timed out", "Next": "Linger"},
            # the execution goes on after the wait, as a turn resumes its agent: the token's task is over, not the run
            "Linger": {"Type": "Wait", "Seconds": 2, "End": True},
        },
    }
    arn = sfn.create_state_machine(
        name=f"wait-{timeout_seconds}", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="e-1", input="{}")["executionArn"]
    for _ in range(200):
        if messages := sqs.receive_message(QueueUrl=url).get("Messages"):
            return sfn, execution, json.loads(messages[0]["Body"])["token"]
        time.sleep(0.02)
    raise AssertionError("no task token")


def finished(sfn, execution: str) -> dict:
    for _ in range(300):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError("still running")


def test_a_token_whose_wait_timed_out_answers_task_timed_out(aws):
    # Given a wait of 1 second that times out
    sfn, execution, token = waiting_execution(1)
    time.sleep(1.3)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"  # past the wait, still running
    # When a decision arrives afterwards
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output="{}")
    # Then it is refused as AWS refuses it, so nobody is told "accepted" for a decision that never ran
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    assert "timed out" in finished(sfn, execution)["output"]


def test_a_token_answers_once(aws):
    sfn, execution, token = waiting_execution(60)
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    time.sleep(0.3)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"  # lingering after the wait
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output='{"approved": false}')
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    assert json.loads(finished(sfn, execution)["output"]) == {"approved": True}


def test_a_decision_at_the_deadline_is_refused_rather_than_accepted_and_discarded(aws):
    # Given a wait of 1 second
    sfn, execution, token = waiting_execution(1)
    # When a decision arrives within the margin before the deadline
    time.sleep(1 - task_tokens.DEADLINE_MARGIN_SECONDS / 2)
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output="{}")
    # Then it is refused, and the workflow goes on as timed out: one outcome, told truly
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    assert "timed out" in finished(sfn, execution)["output"]

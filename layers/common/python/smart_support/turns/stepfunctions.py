"""Step Functions adapter: start a turn's execution, deliver an approval decision to a waiting task."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smart_support import aws
from smart_support.protocol.errors import ApprovalExpired
from smart_support.turns.models import Decision, TurnRequest

if TYPE_CHECKING:  # the stubs are a development dependency: the functions ship without them
    from types_boto3_stepfunctions import SFNClient


def execution_prefix(thread_id: str) -> str:
    """What every execution name of a thread starts with."""
    return f"turn-{hashlib.sha256(thread_id.encode('utf-8')).hexdigest()[:32]}-"


def execution_name(thread_id: str, incarnation: str, turn: int) -> str:
    """Deterministic, valid execution name (at most 80 characters): a retried frame maps to the same execution, and a
    thread id used again after its session was deleted (a new incarnation) never meets an old name."""
    return f"{execution_prefix(thread_id)}{incarnation or 'x'}-{turn}"


class TurnWorkflow:
    """Starts executions of the turn state machine and answers its task tokens (which need no ARN)."""

    def __init__(self, state_machine_arn: str | None = None, sfn: SFNClient | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._sfn = sfn or aws.client("stepfunctions")

    def start(self, request: TurnRequest) -> str:
        """Start (at most once per conversation incarnation and turn) the execution for this turn; returns its name."""
        if not self.state_machine_arn:
            raise RuntimeError("this TurnWorkflow was built without a state machine ARN")
        name = execution_name(request.thread_id, request.incarnation, request.turn)
        try:
            self._sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=json.dumps({"turn": request.model_dump()}),
            )
        except ClientError as exc:
            if aws.error_code(exc) != "ExecutionAlreadyExists":
                raise
        return name

    def send_decision(self, task_token: str, decision: Decision) -> None:
        """Resume the waiting execution; ApprovalExpired if its wait already ended."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output=decision.model_dump_json())
        except ClientError as exc:
            if aws.error_code(exc) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
                raise ApprovalExpired("This approval has expired.") from exc
            raise

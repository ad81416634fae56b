"""State machine tasks: AwaitApproval (register the pending approval) and ReportFailure."""

from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, TypeAdapter

from smart_support import services, tracing
from smart_support.settings import WorkflowTaskSettings, load_settings
from smart_support.turns.models import AwaitApprovalTask, ReportFailureTask

logger = Logger()
tasks = services.workflow_tasks(load_settings(WorkflowTaskSettings))
Task = TypeAdapter(Annotated[AwaitApprovalTask | ReportFailureTask, Field(discriminator="task")])


@logger.inject_lambda_context(clear_state=True)
@tracing.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Dispatch on the payload's `task`."""
    task = Task.validate_python(event)
    logger.append_keys(thread_id=task.turn.thread_id, turn=task.turn.turn, task=task.task)
    if isinstance(task, AwaitApprovalTask):
        pending = tasks.await_approval(task)
        return {"interrupt_id": pending.interrupt_id}
    tasks.report_failure(task)
    return {"reported": True}

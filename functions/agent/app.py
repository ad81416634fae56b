"""The agent task: run (or resume) one LangGraph turn and stream its events to the client."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import services, snapstart
from smart_support.agent.usage import add_usage_metrics
from smart_support.settings import AgentSettings, load_settings
from smart_support.turns.metrics import agent_task_metrics
from smart_support.turns.models import AgentTask

logger = Logger()
tracer = Tracer()
metrics = Metrics()
runner = services.turn_runner(load_settings(AgentSettings))
snapstart.register_restore_hooks()  # SnapStart: reseed `random` in every environment restored from the snapshot


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Returns {"outcome": "complete"|"interrupted", "interrupt": {...}|None} to the state machine."""
    task = AgentTask.model_validate(event)
    logger.append_keys(thread_id=task.turn.thread_id, turn=task.turn.turn, task=task.task)
    result = runner.handle(task)
    add_usage_metrics(metrics, result.get("usage") or {})
    for name, unit, value in agent_task_metrics(task, result):
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)
    return result

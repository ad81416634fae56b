"""A failed agent task and the state machine's retry of it.

What AWS does to it: the end-of-turn transaction can be cancelled by a conflict or throttled (retried with backoff in
the store; only a failed condition on the session means "the thread moved on"); a failure past the retries fails the
task with TransientError, Step Functions retries it (a model that throttled or failed mid-stream past the graph's
own retries likewise: ThrottlingError, with the longer backoff), and the retry sends the client nothing it already
has: what an attempt delivered (and, once its graph run finished, its outcome) is kept for the next. An answer the
retry words differently starts over on the client (`answer_restart`, turns/streaming.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from smart_support import aws
from smart_support.agent.model_errors import model_failure
from smart_support.aws import TransientError
from smart_support.store.deliveries import Delivery, delivery_key
from smart_support.store.dynamodb import StoreError, is_transient_failure
from smart_support.turns.models import AgentTask
from smart_support.turns.streaming import ThreadChannel

if TYPE_CHECKING:
    from smart_support.store.items import Item
    from smart_support.store.ports import DeliveryRepository
    from smart_support.store.transcript import TranscriptEntry

logger = Logger(child=True)

THROTTLING_CODES = (
    "ThrottlingException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ServiceUnavailableException",
)


class ThrottlingError(TransientError):
    """The model provider or AWS throttled us past the client's own retries (the state machine retries it)."""


def transient_failure(exc: Exception) -> TransientError | None:
    """The TransientError to fail the task with when `exc` is AWS or the model failing transiently past every retry
    (a model's mid-stream `throttlingException` too: codes compare case-insensitively, agent/model_errors.py)."""
    failure = model_failure(exc)
    if failure is not None:
        return ThrottlingError(str(exc)) if failure == "throttled" else TransientError(str(exc))
    if not is_transient_failure(exc):
        return None
    code = exc.code if isinstance(exc, StoreError) else aws.error_code(exc)
    return ThrottlingError(str(exc)) if code in THROTTLING_CODES else TransientError(str(exc))


def attempt_key(task: AgentTask) -> Item:
    """The key under which this task's attempts keep what they delivered."""
    turn = task.turn
    which = f"resume-{task.interrupt.interrupt_id}" if task.task == "resume" and task.interrupt else task.task
    return delivery_key(turn.thread_id, turn.incarnation, turn.turn, which)


def remember_delivered(
    deliveries: DeliveryRepository | None,
    key: Item,
    channel: ThreadChannel,
    entries: list[TranscriptEntry],
    outcome: dict[str, Any] | None,
    run: int,
) -> None:
    """Keep what this failing task delivered (and its outcome, if the graph finished) for the retry."""
    if deliveries is None:
        return
    delivery = Delivery(text="".join(channel.delivered_text), events=channel.delivered_events)
    if outcome is not None:
        delivery = delivery.model_copy(update={"entries": entries, "outcome": outcome, "run": run})
    try:
        deliveries.remember(key, delivery)
    except Exception:  # the retry then runs again from the checkpoint
        logger.exception("could not keep what the failed task delivered")

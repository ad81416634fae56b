"""Make moto behave like AWS where the local stack depends on it: atomic DynamoDB writes, prompt callbacks.

DynamoDB writes are atomic across threads, as DynamoDB's conditional writes are.

moto checks a ConditionExpression and then writes in plain Python; two threads (two Lambdas in the local
stack) can both pass the check. Real DynamoDB never lets that happen, so the local stack serialises
moto's item operations with one lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
)


def make_dynamodb_atomic() -> None:
    """Wrap moto's DynamoDB backend operations in one re-entrant lock (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    # The request handlers too: UpdateItem deep-copies the stored item outside the backend call, which raced
    # with concurrent writes to the same item ("dictionary changed size during iteration") under load.
    for cls in (DynamoDBBackend, DynamoHandler):
        for name in _OPERATIONS:
            original = getattr(cls, name, None)
            if original is None or getattr(original, "_atomic", False):
                continue

            def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
                with _LOCK:
                    return __original(self, *args, **kwargs)

            functools.update_wrapper(locked, original)
            locked._atomic = True  # type: ignore[attr-defined]  # a marker on the wrapper function
            setattr(cls, name, locked)


def set_task_token_poll(seconds: float) -> float:
    """How often moto's interpreter checks for a .waitForTaskToken callback (500 ms by default); returns the old value.

    Step Functions resumes a waiting task within tens of milliseconds of SendTaskSuccess; the local stack polls every
    20 ms so a decision in `make dev` feels like it does on AWS.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )

    previous = float(callback._DELAY_SECONDS_SYNC_CONDITION_CHECK)
    callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = seconds  # type: ignore[misc]  # moto declares it Final
    return previous

"""Make moto's DynamoDB writes atomic across threads, as DynamoDB's conditional writes are.

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
            locked._atomic = True  # type: ignore[attr-defined]
            setattr(cls, name, locked)

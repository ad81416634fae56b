"""Strictness and memory: a cancelled TransactWriteItems puts back the items it touched, and nothing else.

AWS: TransactWriteItems actions "are completed atomically so that either all of them succeed, or all of them fail"
(DynamoDB API reference, TransactWriteItems): a cancelled transaction changes nothing, and never undoes another
request's write. moto 5.2.5 deep-copies every table a transaction names and puts the copies back when it fails
(`DynamoDBBackend.transact_write_items`): beside item_locks that undid concurrent writes to other items (a lost
update), and it cost a whole table per transaction. Here moto's copy of a table is the table itself, and each item
the transaction names is snapshotted first and put back on failure. Upstream: moto would journal the items it
touches instead of copying tables.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any


class _TablesUncopied:
    """The `copy` module as moto.dynamodb.models sees it: a deep copy of a Table is the table itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _snapshot(backend: Any, entry: dict[str, Any]) -> Callable[[], None] | None:
    """A function that puts back the item `entry` writes as it is now; None if it writes none moto could find."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        ((kind, op),) = entry.items()
        table = backend.get_table(op["TableName"])
        attrs = op["Item"] if kind == "Put" else op["Key"]
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        before = copy.deepcopy(table.get_item(hash_key, range_key))
    except Exception:  # moto refuses this entry, and so writes nothing for it
        return None

    def restore() -> None:
        partition, slot = (table.items[hash_key], range_key) if range_key is not None else (table.items, hash_key)
        if before is None:
            partition.pop(slot, None)
        else:
            partition[slot] = before

    return restore


@functools.cache
def install() -> None:
    """Roll transactions back per item (once)."""
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo = [restore for entry in transact_items if (restore := _snapshot(self, entry))]
        try:
            original(self, transact_items)
        except BaseException:
            for restore in reversed(undo):
                restore()
            raise

    backend: Any = models.DynamoDBBackend
    backend.transact_write_items = transact_write_items
    module: Any = models
    module.copy = _TablesUncopied()

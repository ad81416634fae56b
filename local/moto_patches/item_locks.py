"""Strictness: each DynamoDB request is atomic on its items, and transactions conflict as in DynamoDB.

AWS: conditional writes are atomic per item; a TransactWriteItems meeting an item another transaction holds is
cancelled (`TransactionConflict`), and a single write to it fails (`TransactionConflictException`) (DynamoDB
Developer Guide, "Transaction conflict handling in DynamoDB"). moto 5.2.5 checks a condition and then writes,
unlocked (getmoto/moto#7166), and nothing ever conflicts (getmoto/moto#2879). Here each request takes all its locks
at once (its items; a Query, Scan or DescribeTable its table while it iterates: docs/local-stack.md, "Concurrency").
Upstream: a per-item lock in moto's DynamoDB backend and a TransactionConflict cancellation reason.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

READ, WRITE = "read", "write"
SCANS = ("query", "scan", "describe_table")
POINTS = ("get_item", "put_item", "update_item", "delete_item")
OPERATIONS = (*SCANS, *POINTS, "batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items")


@dataclass
class Plan:
    """What one request locks: tables it iterates, items it reads or writes, whether it is a write transaction."""

    scans: set[str] = field(default_factory=set)
    items: list[tuple[int, str, str, str]] = field(default_factory=list)  # (position, table, key, READ | WRITE)
    transaction: bool = False

    def tables(self) -> set[str]:
        """Tables whose items it touches."""
        return {table for _, table, _, _ in self.items}


class ItemLocks:
    """Item and table locks for moto's DynamoDB, with per-item write counts."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._held: dict[tuple[str, str], bool] = {}  # (table, key) -> whether a write transaction holds it
        self._points: Counter[str] = Counter()  # requests holding items, by table
        self._scanning: Counter[str] = Counter()
        self._scans_waiting: Counter[str] = Counter()  # a waiting scan keeps new point requests out of its table
        self.writes: Counter[tuple[str, str]] = Counter()
        self.conflicts = 0

    def acquire(self, plan: Plan) -> None:
        """Block until the plan's locks are free, then take them all; raise on a transaction conflict."""
        with self._cv:
            self._scans_waiting.update(plan.scans)
            try:
                while not self._free(plan):
                    self._raise_on_conflict(plan)  # only a held item can clash, and then the plan is not free
                    self._cv.wait(0.5)
            finally:
                self._scans_waiting.subtract(plan.scans)
            for _, table, key, _ in plan.items:
                self._held[(table, key)] = plan.transaction
            self._points.update(plan.tables())
            self._scanning.update(plan.scans)

    def release(self, plan: Plan, succeeded: bool) -> None:
        """Give the plan's locks back (and count its writes if it succeeded)."""
        with self._cv:
            for _, table, key, mode in plan.items:
                self._held.pop((table, key), None)
                if succeeded and mode == WRITE:
                    self.writes[(table, key)] += 1
            self._points.subtract(plan.tables())
            self._scanning.subtract(plan.scans)
            self._cv.notify_all()

    def _free(self, plan: Plan) -> bool:
        if any(self._scanning[t] or (not plan.scans and self._scans_waiting[t]) for t in plan.tables()):
            return False
        if any(self._points[t] or self._scanning[t] for t in plan.scans):
            return False
        return not any((table, key) in self._held for _, table, key, _ in plan.items)

    def _raise_on_conflict(self, plan: Plan) -> None:
        """DynamoDB's conflict error if a transaction holds an item this plan must not wait for."""
        from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException

        clashes = {
            position
            for position, table, key, mode in plan.items
            if self._held.get((table, key)) and (plan.transaction or mode == WRITE)
        }
        if not clashes:
            return
        self.conflicts += 1
        if plan.transaction:
            reason = ("TransactionConflict", "Transaction is ongoing for the item", None)
            count = max(position for position, *_ in plan.items) + 1
            raise TransactionCanceledException([reason if i in clashes else (None,) * 3 for i in range(count)])
        raise DynamodbException(
            "com.amazonaws.dynamodb.v20120810#TransactionConflictException", "Transaction is ongoing for the item"
        )


LOCKS = ItemLocks()


def plan_for(operation: str, body: dict[str, Any], backend: Any) -> Plan:
    """The locks a DynamoDB request takes (each item once: moto refuses a request naming one twice)."""

    def key(table_name: str, attrs: dict[str, Any]) -> str:
        table = backend.get_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return json.dumps([attrs.get(name) for name in names], sort_keys=True)

    plan = Plan(transaction=operation == "transact_write_items")
    name = body.get("TableName", "")
    if operation in SCANS:
        plan.scans.add(str(name))
    elif operation in POINTS:
        mode = READ if operation == "get_item" else WRITE
        plan.items.append((0, name, key(name, body["Item"] if operation == "put_item" else body["Key"]), mode))
    elif operation == "batch_get_item":
        for table, spec in body.get("RequestItems", {}).items():
            plan.items.extend((0, table, key(table, attrs), READ) for attrs in spec.get("Keys", []))
    elif operation == "batch_write_item":
        for table, requests in body.get("RequestItems", {}).items():
            for request in requests:
                attrs = (request.get("PutRequest") or {}).get("Item") or (request.get("DeleteRequest") or {}).get("Key")
                plan.items.append((0, table, key(table, attrs or {}), WRITE))
    else:  # a transaction
        for position, entry in enumerate(body.get("TransactItems", [])):
            ((kind, spec),) = entry.items()
            attrs = spec.get("Key") or spec.get("Item") or {}
            mode = WRITE if kind in ("Put", "Update", "Delete") else READ
            plan.items.append((position, spec["TableName"], key(spec["TableName"], attrs), mode))
    plan.items = list({(entry[1], entry[2]): entry for entry in reversed(plan.items)}.values())  # the first stays
    return plan


def _locked(operation: str, method: Any) -> Any:
    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            plan = plan_for(operation, getattr(self, "body", None) or {}, self.dynamodb_backend)
        except Exception:  # an invalid request: moto answers it with its own validation error
            plan = Plan()
        LOCKS.acquire(plan)
        succeeded = False
        try:
            result = method(self, *args, **kwargs)
            succeeded = True
            return result
        finally:
            LOCKS.release(plan, succeeded)

    return run


@functools.cache
def install() -> None:
    """Lock moto's DynamoDB request handlers per item (once)."""
    from moto.dynamodb.responses import DynamoHandler

    for name in OPERATIONS:
        setattr(DynamoHandler, name, _locked(name, getattr(DynamoHandler, name)))

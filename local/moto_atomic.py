"""Make moto behave like DynamoDB under concurrency: each request atomic, and no more than that.

moto checks a ConditionExpression and then writes in plain Python, so two threads (two Lambdas of the local stack)
could both pass a check. DynamoDB makes each request atomic on its items; so does this module, per item:

- A point read or write holds its item for the length of the request; requests on other items run alongside.
- Query, Scan and DescribeTable iterate moto's dicts: they exclude point requests on that table (only) while they run.
- TransactWriteItems holds all its items. An item already held by another transaction cancels it with
  TransactionCanceledException (reason TransactionConflict on that item), and a single write to an item a
  transaction holds fails with TransactionConflictException, as DynamoDB does. Nothing waits on a transaction.
- moto rolls a failed transaction back by restoring whole-table copies, which would undo other requests' writes (and
  copies the whole table per transaction); here the rollback restores only the items the transaction touched.

Locks are taken all at once under one condition variable (never a partial set while waiting), so requests cannot
deadlock. The module also counts successful writes per item (the benchmark's hot-item figure) and sweeps expired
items for the TTL emulation.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

READ, WRITE = "read", "write"
SCANS = ("query", "scan", "describe_table")


@dataclass
class Plan:
    """What one request locks: whole tables it iterates, items it reads or writes, whether it is a transaction."""

    scans: set[str] = field(default_factory=set)
    items: list[tuple[int, str, str, str]] = field(default_factory=list)  # (position, table, key, mode)
    transaction: bool = False

    def tables(self) -> set[str]:
        """Tables whose items it touches."""
        return {table for _, table, _, _ in self.items}


class ItemLocks:
    """Item and table locks for moto's DynamoDB, plus per-item write counts."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._held: dict[tuple[str, str], str] = {}  # (table, key) -> READ | WRITE | "transaction"
        self._points: Counter[str] = Counter()  # requests holding items, by table
        self._scanning: Counter[str] = Counter()
        self._scans_waiting: Counter[str] = Counter()
        self.writes: Counter[tuple[str, str]] = Counter()
        self.conflicts = 0

    def acquire(self, plan: Plan) -> None:
        """Block until the plan's locks are free, then take them all; raise on a transaction conflict."""
        with self._cv:
            for table in plan.scans:
                self._scans_waiting[table] += 1
            try:
                while True:
                    self._raise_on_conflict(plan)
                    if self._free(plan):
                        break
                    self._cv.wait(0.5)
            finally:
                for table in plan.scans:
                    self._scans_waiting[table] -= 1
            kind = "transaction" if plan.transaction else None
            for _, table, key, mode in plan.items:
                self._held[(table, key)] = kind or mode
            for table in plan.tables():
                self._points[table] += 1
            for table in plan.scans:
                self._scanning[table] += 1

    def release(self, plan: Plan, succeeded: bool) -> None:
        """Give the plan's locks back (and count its writes if it succeeded)."""
        with self._cv:
            for _, table, key, mode in plan.items:
                self._held.pop((table, key), None)
                if succeeded and mode == WRITE:
                    self.writes[(table, key)] += 1
            for table in plan.tables():
                self._points[table] -= 1
            for table in plan.scans:
                self._scanning[table] -= 1
            self._cv.notify_all()

    def _free(self, plan: Plan) -> bool:
        for table in plan.tables():
            if self._scanning[table] or (not plan.scans and self._scans_waiting[table]):
                return False
        for table in plan.scans:
            if self._points[table] or self._scanning[table]:
                return False
        return not any((table, key) in self._held for _, table, key, _ in plan.items)

    def _raise_on_conflict(self, plan: Plan) -> None:
        from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException

        clashes = [
            position
            for position, table, key, mode in plan.items
            if self._held.get((table, key)) == "transaction" and (plan.transaction or mode == WRITE)
        ]
        if not clashes:
            return
        self.conflicts += 1
        if plan.transaction:
            count = max(position for position, *_ in plan.items) + 1
            raise TransactionCanceledException(
                [
                    ("TransactionConflict", "Transaction is ongoing for the item", None)
                    if i in clashes
                    else (None,) * 3
                    for i in range(count)
                ]
            )
        raise DynamodbException(
            "com.amazonaws.dynamodb.v20120810#TransactionConflictException", "Transaction is ongoing for the item"
        )


LOCKS = ItemLocks()


def _key_of(backend: Any, table_name: str, attrs: dict[str, Any]) -> str:
    table = backend.get_table(table_name)
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return json.dumps([attrs.get(name) for name in names], sort_keys=True)


def plan_for(operation: str, body: dict[str, Any], backend: Any) -> Plan:
    """The locks a DynamoDB request takes."""
    plan = Plan()
    if operation in SCANS:
        plan.scans.add(str(body.get("TableName", "")))
    elif operation == "get_item":
        plan.items.append((0, body["TableName"], _key_of(backend, body["TableName"], body["Key"]), READ))
    elif operation == "put_item":
        plan.items.append((0, body["TableName"], _key_of(backend, body["TableName"], body["Item"]), WRITE))
    elif operation in ("update_item", "delete_item"):
        plan.items.append((0, body["TableName"], _key_of(backend, body["TableName"], body["Key"]), WRITE))
    elif operation == "batch_get_item":
        for table, spec in body.get("RequestItems", {}).items():
            plan.items.extend((0, table, _key_of(backend, table, key), READ) for key in spec.get("Keys", []))
    elif operation == "batch_write_item":
        for table, requests in body.get("RequestItems", {}).items():
            for request in requests:
                attrs = (request.get("PutRequest") or {}).get("Item") or (request.get("DeleteRequest") or {}).get("Key")
                plan.items.append((0, table, _key_of(backend, table, attrs or {}), WRITE))
    elif operation in ("transact_write_items", "transact_get_items"):
        plan.transaction = operation == "transact_write_items"
        for position, entry in enumerate(body.get("TransactItems", [])):
            ((kind, spec),) = entry.items()
            attrs = spec.get("Key") or spec.get("Item") or {}
            mode = WRITE if kind in ("Put", "Update", "Delete") else READ
            plan.items.append((position, spec["TableName"], _key_of(backend, spec["TableName"], attrs), mode))
    # two entries for one item make moto raise its own validation error; keep the first for the lock
    seen: set[tuple[str, str]] = set()
    unique = []
    for entry in plan.items:
        if (entry[1], entry[2]) not in seen:
            seen.add((entry[1], entry[2]))
            unique.append(entry)
    plan.items = unique
    return plan


def _locked(operation: str, method: Any) -> Any:
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            plan = plan_for(operation, getattr(self, "body", {}) or {}, self.dynamodb_backend)
        except Exception:  # an invalid request: let moto answer it with its own validation error
            plan = Plan()
        LOCKS.acquire(plan)
        succeeded = False
        try:
            result = method(self, *args, **kwargs)
            succeeded = True
            return result
        finally:
            LOCKS.release(plan, succeeded)

    functools.update_wrapper(run, method)
    run._atomic = True  # type: ignore[attr-defined]
    return run


OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "describe_table",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
)


def make_dynamodb_atomic() -> None:
    """Lock moto's DynamoDB request handlers per item and roll transactions back per item (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for name in OPERATIONS:
        original = getattr(DynamoHandler, name)
        if not getattr(original, "_atomic", False):
            setattr(DynamoHandler, name, _locked(name, original))
    if not getattr(DynamoDBBackend.transact_write_items, "_atomic", False):
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, with a rollback that restores only the items it touched."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models.dynamo_type import DynamoType

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    backups: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, item before or None)
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []

    def rollback() -> None:
        for table, hash_value, range_value, before in reversed(backups):
            if before is None:
                table.delete_item(hash_value, range_value)
            elif range_value is not None:
                table.items[hash_value][range_value] = before
            else:
                table.items[hash_value] = before

    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            source = op["Item"] if op_type == "Put" else op["Key"]
            key = {table.hash_key_attr: source[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = source[table.range_key_attr]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in targets:
                raise MultipleTransactionsException()
            targets.add(marker)
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            current = self.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                backups.append((table, hash_value, range_value, copy.deepcopy(current)))
            expressions = {
                "condition_expression": condition,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **expressions)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **expressions)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **expressions)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
        except Exception as exc:  # moto reports any other failure as that item's reason
            errors.append((type(exc).__name__, str(exc), original_item))
    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


_transact_write_items._atomic = True  # type: ignore[attr-defined]


def sweep_expired(now: float | None = None) -> int:
    """Delete every item past its table's TTL attribute, as DynamoDB's TTL process does (eventually); returns count."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    now = time.time() if now is None else now
    deleted = 0
    for backend in list(dynamodb_backends[DEFAULT_ACCOUNT_ID].values()):
        for name, table in list(backend.tables.items()):
            attribute = table.ttl.get("AttributeName")
            if table.ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                continue
            plan = Plan(scans={name})
            LOCKS.acquire(plan)
            try:
                for item in table.all_items():
                    value = item.attrs.get(attribute)
                    if value is None or value.type != "N":
                        continue
                    if float(value.value) <= now:
                        table.delete_item(item.hash_key, item.range_key)
                        deleted += 1
            finally:
                LOCKS.release(plan, succeeded=False)
    return deleted


class TtlSweeper:
    """A daemon thread that calls `sweep_expired` every `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.deleted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ttl-sweeper", daemon=True)

    def start(self) -> TtlSweeper:
        """Begin sweeping."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current sweep."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deleted += sweep_expired()
            except Exception as exc:  # a sweep must never take the stack down
                print(f"warning: TTL sweep failed: {exc!r}", flush=True)


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

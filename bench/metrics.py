"""AWS request accounting for the bench: every boto3 call the local stack's functions make, by service and operation.

`AwsRequestRecorder.install()` appends botocore event handlers to `botocore.handlers.BUILTIN_HANDLERS`, the list
every new botocore session registers (moto plugs in its stubber the same way), so each client made afterwards,
whoever makes it (smart_support.aws, DynamoDBSaver, moto's Step Functions interpreter), reports its calls:

- `before-parameter-build`: remember the call's parameters (and, for DynamoDB writes, the stored item's size before);
- `after-call`: count the call (and its retries), estimate the DynamoDB capacity it consumed.

`attribute(registry)` wraps a `FunctionRegistry.invoke` so that calls are attributed to the function whose handler
made them (a ContextVar: LangGraph's worker threads copy it), and records each invocation's duration. Calls made
outside any function (the Step Functions interpreter invoking Lambda, a benchmark's own reads) are attributed to
`scope()`'s label or to "-".

Capacity is an estimate from DynamoDB's published rules (on-demand, standard table class): reads bill 1 RRU per 4 KB
(half for eventually consistent reads), writes 1 WRU per 1 KB of the larger of the old and new item, transactional
writes twice that, and each global secondary index the item is (or was) in one more write. Item sizes come from
moto's stored items, so they are the sizes DynamoDB would see, not guesses. moto's own ConsumedCapacity is a
constant and is not used.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Self

from local.inprocess import InProcessStack

CALLER: ContextVar[str | None] = ContextVar("aws_caller", default=None)
UNATTRIBUTED = "-"
HARNESS = "harness:"  # scope() labels with this prefix are left out of per-turn request counts
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


class Units(dict[str, float]):
    """Capacity units by table (fractional: an eventually consistent read is half a unit)."""

    def add(self, key: str, value: float) -> None:
        """Add `value` units to `key`."""
        self[key] = self.get(key, 0.0) + value

    def __add__(self, other: dict[str, float]) -> Units:
        out = Units(self)
        for key, value in other.items():
            out.add(key, value)
        return out

    def __sub__(self, other: dict[str, float]) -> Units:
        out = Units(self)
        for key, value in other.items():
            out.add(key, -value)
        return Units({k: v for k, v in out.items() if v > 0})


@dataclass
class Snapshot:
    """Counters at one moment; `a.diff(b)` is what happened in between."""

    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (caller, service, operation)
    retries: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # + error code
    rru: Units = field(default_factory=Units)  # by table
    wru: Units = field(default_factory=Units)
    invocations: Counter[str] = field(default_factory=Counter)  # by function
    duration_ms: Counter[str] = field(default_factory=Counter)  # billed (rounded up per invocation)

    def diff(self, before: Snapshot) -> Snapshot:
        """What was recorded since `before`."""
        return Snapshot(*(getattr(self, f) - getattr(before, f) for f in _FIELDS))

    def requests(self, service: str | None = None, *, everyone: bool = False) -> Counter[str]:
        """Calls by "service.Operation": the functions' and scoped code's, or everyone's (Step Functions, harness)."""
        out: Counter[str] = Counter()
        for (caller, svc, op), n in self.calls.items():
            counted = everyone or (caller != UNATTRIBUTED and not caller.startswith(HARNESS))
            if counted and (service is None or svc == service):
                out[f"{svc}.{op}"] += n
        return out

    def by_caller(self) -> dict[str, Counter[str]]:
        """Calls by function, then "service.Operation"."""
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for (caller, svc, op), n in self.calls.items():
            out[caller][f"{svc}.{op}"] += n
        return dict(out)


_FIELDS = ("calls", "retries", "errors", "rru", "wru", "invocations", "duration_ms")


class AwsRequestRecorder:
    """Counts boto3 calls and estimates DynamoDB capacity, process-wide, once installed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data = Snapshot()
        self._tables: dict[str, dict[str, Any]] = {}
        self._installed = False
        self.capacity_failures = 0

    # ------------------------------------------------------------ setup
    def install(self, tables: dict[str, dict[str, Any]] | None = None) -> AwsRequestRecorder:
        """Hook every botocore session created from now on (and boto3's default one). Idempotent."""
        if self._installed:
            return self
        import boto3
        import botocore.handlers

        from local.template import table_definitions

        for spec in (tables or table_definitions()).values():
            create = spec["create"]
            self._tables[create["TableName"]] = {
                "key": [k["AttributeName"] for k in create["KeySchema"]],
                "indexes": [
                    [k["AttributeName"] for k in gsi["KeySchema"]] for gsi in create.get("GlobalSecondaryIndexes", [])
                ],
            }
        botocore.handlers.BUILTIN_HANDLERS.extend(self._handlers())
        if boto3.DEFAULT_SESSION is not None:
            for event, handler in self._handlers():
                boto3.DEFAULT_SESSION._session.register(event, handler)
        self._installed = True
        return self

    def uninstall(self) -> None:
        """Sessions created from now on are no longer hooked (existing clients keep reporting)."""
        import boto3
        import botocore.handlers

        for entry in self._handlers():
            while entry in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(entry)
            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION._session.unregister(*entry)
        self._installed = False

    def _handlers(self) -> list[tuple[str, Callable[..., None]]]:
        return [("before-parameter-build", self._before), ("after-call", self._after)]

    def attribute(self, registry: Any) -> None:
        """Wrap `registry.invoke(name, event)` (a local.lambdas.FunctionRegistry) to label calls and time runs."""
        original: Callable[[str, Any], Any] = registry.invoke

        def invoke(name_or_arn: str, event: Any) -> Any:
            function_id = registry.find(name_or_arn).logical_id
            token = CALLER.set(function_id)
            started = time.perf_counter()
            try:
                return original(name_or_arn, event)
            finally:
                elapsed = math.ceil((time.perf_counter() - started) * 1000)
                CALLER.reset(token)
                with self._lock:
                    self._data.invocations[function_id] += 1
                    self._data.duration_ms[function_id] += elapsed

        registry.invoke = invoke

    @contextlib.contextmanager
    def scope(self, label: str) -> Iterator[None]:
        """Attribute the calls made inside the block (in this thread) to `label`."""
        token = CALLER.set(label)
        try:
            yield
        finally:
            CALLER.reset(token)

    def snapshot(self) -> Snapshot:
        """A copy of every counter."""
        with self._lock:
            return Snapshot(*(copy.copy(getattr(self._data, f)) for f in _FIELDS))

    # ------------------------------------------------------------ botocore handlers
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["recorder_params"] = dict(params)
        if model.service_model.service_name == "dynamodb":
            with contextlib.suppress(Exception):  # accounting must never break a call
                context["recorder_old"] = self._old_sizes(model.name, params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        key = (CALLER.get() or UNATTRIBUTED, service, operation)
        retries = int((parsed.get("ResponseMetadata") or {}).get("RetryAttempts", 0))
        code = (parsed.get("Error") or {}).get("Code")
        rru, wru = Units(), Units()
        if service == "dynamodb":
            try:
                rru, wru = self._capacity(
                    operation,
                    context.get("recorder_params") or {},
                    parsed,
                    context.get("recorder_old") or {},
                    failed=bool(code),
                )
            except Exception:  # accounting must never break a call; the benchmark reports how often it failed
                self.capacity_failures += 1
        with self._lock:
            self._data.calls[key] += 1
            if retries:
                self._data.retries[key] += retries
            if code:
                self._data.errors[(*key, str(code))] += 1
            self._data.rru += rru
            self._data.wru += wru

    # ------------------------------------------------------------ capacity
    def _backend_item(self, table: str, key: dict[str, Any]) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from local.template import REGION

        return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_item(table, key)

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self._tables[table]["key"] if name in item}

    def _write_targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, table, key) of each item a write touches."""
        if operation in _WRITES:
            table = params["TableName"]
            key = params.get("Key") or self._key_of(table, params.get("Item", {}))
            return [(operation, table, key)]
        targets = []
        if operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((kind, spec),) = entry.items()
                key = spec.get("Key") or self._key_of(spec["TableName"], spec.get("Item", {}))
                targets.append((kind, spec["TableName"], key))
        return targets

    def _old_sizes(self, operation: str, params: dict[str, Any]) -> dict[tuple[str, str], Any]:
        old = {}
        for _, table, key in self._write_targets(operation, params):
            old[(table, repr(sorted(key.items())))] = self._backend_item(table, key)
        return old

    def _capacity(
        self,
        operation: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        old_items: dict[tuple[str, str], Any],
        failed: bool,
    ) -> tuple[Units, Units]:
        rru, wru = Units(), Units()
        if operation == "GetItem":
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            rru.add(params["TableName"], factor * _units(wire_size(parsed.get("Item") or {}), READ_UNIT_BYTES))
        elif operation in ("Query", "Scan"):
            factor = 1.0 if params.get("ConsistentRead") else 0.5
            total = sum(wire_size(item) for item in parsed.get("Items", []))
            rru.add(params["TableName"], factor * _units(total, READ_UNIT_BYTES))
        for kind, table, key in self._write_targets(operation, params):
            old = old_items.get((table, repr(sorted(key.items()))))
            new = None if failed else self._backend_item(table, key)
            factor = 2.0 if operation == "TransactWriteItems" else 1.0
            if kind == "ConditionCheck":
                rru.add(table, factor * _units(old.size() if old else 0, READ_UNIT_BYTES))
                continue
            size = max(old.size() if old else 0, new.size() if new else 0)
            wru.add(table, factor * _units(size, WRITE_UNIT_BYTES))
            if not failed:
                wru.add(table, self._index_writes(table, old, new))
        return rru, wru

    def _index_writes(self, table: str, old: Any, new: Any) -> float:
        units = 0.0
        for index_key in self._tables[table]["indexes"]:
            old_key = _index_key(old, index_key)
            new_key = _index_key(new, index_key)
            if old_key is None and new_key is None:
                continue
            if old_key is not None and new_key is not None and old_key != new_key:
                units += _units(old.size(), WRITE_UNIT_BYTES)  # the old index entry is deleted
            if new_key is not None:
                units += _units(new.size(), WRITE_UNIT_BYTES)
            elif old_key is not None:
                units += _units(old.size(), WRITE_UNIT_BYTES)
        return units


def _index_key(item: Any, names: list[str]) -> tuple[Any, ...] | None:
    if item is None or any(name not in item.attrs for name in names):
        return None
    return tuple(repr(item.attrs[name].value) for name in names)


def _units(size: int, unit: int) -> float:
    return float(max(1, math.ceil(size / unit)))


def wire_size(item: dict[str, Any]) -> int:
    """An item's size in DynamoDB's accounting, from its low-level (wire) representation."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = len(raw.lstrip("-").replace(".", "").strip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in raw)
    if kind == "NS":
        return sum(_value_size({"N": v}) for v in raw)
    if kind == "BS":
        return sum(len(v) for v in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    return 0


RECORDER = AwsRequestRecorder()


class RecordedStack(InProcessStack):
    """The in-process local stack with every AWS request of its functions counted by `recorder`."""

    def __init__(self, **env: str) -> None:
        # The bench drives many turns per principal: limits high enough not to interfere (each frame still pays
        # its rate-limit write, which the request counts include).
        limits = {"RATE_LIMIT_TURNS_PER_MINUTE": "100000", "RATE_LIMIT_FRAMES_PER_SECOND": "100000"}
        super().__init__(**{**limits, **env})
        self.recorder = RECORDER

    def start(self) -> Self:
        """Hook botocore before the functions make their clients, then attribute their calls to them."""
        self.recorder.install()
        super().start()
        self.recorder.attribute(self.stack.functions)
        return self

    def stop(self) -> None:
        """Stop the stack; botocore sessions made from now on are no longer hooked."""
        super().stop()
        self.recorder.uninstall()


__all__ = ["CALLER", "HARNESS", "RECORDER", "AwsRequestRecorder", "RecordedStack", "Snapshot", "wire_size"]

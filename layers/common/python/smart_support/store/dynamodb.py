"""DynamoDB requests for the stores: conditional writes that hand back the old item, transactions, and the one place
a botocore ClientError from a data call becomes one of the stores' errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from smart_support import aws


class StoreError(Exception):
    """DynamoDB failed a request for a reason other than a condition (throttled past the retries, denied, invalid)."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"DynamoDB {operation} failed ({code}).")
        self.operation = operation
        self.code = code


class ConditionFailed(Exception):
    """A conditional write's condition was false; `old` is the item as it was (None when there was none)."""

    def __init__(self, old: dict[str, Any] | None) -> None:
        super().__init__("The condition of the write was not met.")
        self.old = old


class TransactionCancelled(Exception):
    """DynamoDB cancelled a transaction: one of its conditions failed, or another request conflicted with it."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []  # per item: "None", "ConditionalCheckFailed", "TransactionConflict", ...

    @property
    def condition_failed(self) -> bool:
        """True when a condition of the transaction was false (not a conflict with another request)."""
        return "ConditionalCheckFailed" in self.reasons


def _store_error(exc: ClientError) -> StoreError:
    return StoreError(exc.operation_name, aws.error_code(exc))


@contextmanager
def store_errors() -> Iterator[None]:
    """A ClientError raised inside becomes a StoreError."""
    try:
        yield
    except ClientError as exc:
        raise _store_error(exc) from exc


def conditional_write(write: Callable[..., dict[str, Any]], **request: Any) -> dict[str, Any]:
    """Run one conditional PutItem/UpdateItem: its response, or ConditionFailed carrying the item as it was."""
    try:
        return write(**request, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            raise ConditionFailed(exc.response.get("Item")) from exc
        raise _store_error(exc) from exc


def transact_write(dynamodb: Any, transact_items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems request; TransactionCancelled when DynamoDB cancels it."""
    try:
        dynamodb.transact_write_items(TransactItems=transact_items)
    except ClientError as exc:
        if aws.error_code(exc) == "TransactionCanceledException":
            reasons = [str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])]
            raise TransactionCancelled(str(exc), reasons) from exc
        raise _store_error(exc) from exc

"""DynamoDB requests for the stores: conditional writes that hand back the old item, transactions, and the one place
a botocore ClientError from a data call becomes one of the stores' errors.

Writes are retried with backoff on what DynamoDB answers under load and botocore does not retry itself (transaction
conflicts, a throttled transaction's cancellation); whatever is left is told apart: a failed condition, a conflict
that outlasted the retries (`transient`), or another error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar, cast

from botocore.exceptions import ClientError

from smart_support import aws

if TYPE_CHECKING:  # the stubs are a development dependency: the functions ship without them
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from smart_support.store.items import Item

Response = TypeVar("Response")


class StoreError(Exception):
    """DynamoDB failed a request for a reason other than a condition (throttled past the retries, denied, invalid)."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"DynamoDB {operation} failed ({code}).")
        self.operation = operation
        self.code = code

    @property
    def transient(self) -> bool:
        """Trying again later may work (throttling, a conflict, a 5xx)."""
        return self.code in aws.TRANSIENT_CODES


class ConditionFailed(Exception):
    """A conditional write's condition was false; `old` is the item as it was (None when there was none)."""

    def __init__(self, old: Item | None) -> None:
        super().__init__("The condition of the write was not met.")
        self.old = old


class TransactionCancelled(Exception):
    """DynamoDB cancelled a transaction: one of its conditions failed, or a conflict or throttle outlasted the retries.

    `reasons` has one code per item ("None" for the fine ones); `old` the items as they were where a condition failed.
    """

    def __init__(self, message: str, reasons: list[str] | None = None, old: list[Item | None] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []  # per item: "None", "ConditionalCheckFailed", "TransactionConflict", ...
        self.old = old or []

    @property
    def condition_failed(self) -> bool:
        """True when a condition of the transaction was false (not a conflict with another request)."""
        return "ConditionalCheckFailed" in self.reasons

    @property
    def transient(self) -> bool:
        """No condition failed: the transaction lost to contention or throttling, and may succeed later."""
        return not self.condition_failed

    def failed_at(self, index: int) -> bool:
        """The condition of item `index` was false."""
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def is_transient_failure(exc: BaseException) -> bool:
    """A store's (or a client's) failure that may go away when the whole task is tried again."""
    if isinstance(exc, TransactionCancelled):
        return exc.transient
    if isinstance(exc, StoreError):
        return exc.transient
    return isinstance(exc, ClientError) and aws.is_transient(exc)


def _store_error(exc: ClientError) -> StoreError:
    return StoreError(exc.operation_name, aws.error_code(exc))


@contextmanager
def store_errors() -> Iterator[None]:
    """A ClientError raised inside becomes a StoreError."""
    try:
        yield
    except ClientError as exc:
        raise _store_error(exc) from exc


def conditional_write(write: Callable[..., Response], **request: object) -> Response:
    """One conditional PutItem, UpdateItem or DeleteItem: its response, or ConditionFailed with the item as it was."""
    try:
        return aws.retry_transient(lambda: write(**request, ReturnValuesOnConditionCheckFailure="ALL_OLD"))
    except ClientError as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            raise ConditionFailed(_old_item(exc.response.get("Item"))) from exc
        raise _store_error(exc) from exc


def _old_item(item: object) -> Item | None:
    """The item as it was, from a failed condition's answer (botocore hands it over untyped)."""
    return cast("Item", item) if isinstance(item, dict) else None


def transact_write(dynamodb: DynamoDBClient, transact_items: Sequence[TransactWriteItemTypeDef]) -> None:
    """One TransactWriteItems request, retried while it only conflicts; TransactionCancelled if DynamoDB cancels it."""
    try:
        aws.retry_transient(lambda: dynamodb.transact_write_items(TransactItems=transact_items))
    except ClientError as exc:
        if aws.error_code(exc) == "TransactionCanceledException":
            raw = exc.response.get("CancellationReasons") or []
            raise TransactionCancelled(
                str(exc), aws.cancellation_reasons(exc), [_old_item(reason.get("Item")) for reason in raw]
            ) from exc
        raise _store_error(exc) from exc

"""AWS SDK clients, built once per process from one botocore session and one Config, on first use.

A client costs ~35 ms to build (service model, endpoint rules); `client()` hands out a proxy that builds it when a
request first needs it, so a handler's import does no AWS work and a route that makes no call builds no client.
The clients are botocore's (what `boto3.client()` returns): importing boto3 also imports s3transfer and
multiprocessing for S3 transfers, ~20 ms of every light function's cold start for nothing (docs/performance.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:  # the stubs are a development dependency: the functions ship without them
    from types_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_stepfunctions import SFNClient

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=20,
    tcp_keepalive=True,
    max_pool_connections=50,
)


_session_lock = threading.Lock()


@cache
def session() -> botocore.session.Session:
    """One session per process: each new session reloads the endpoint and service data (~0.1 s a cold start)."""
    return botocore.session.get_session()


@cache
def real_client(service: str, endpoint_url: str | None = None) -> object:
    """The cached, thread-safe low-level client for `service`, built now."""
    with _session_lock:  # a session is not thread-safe; the clients it makes are
        built: object = session().create_client(service, config=CLIENT_CONFIG, endpoint_url=endpoint_url or None)
        return built


class LazyClient:
    """Stands for `real_client(service, endpoint_url)` and builds it on first attribute access."""

    def __init__(self, service: str, endpoint_url: str | None = None) -> None:
        self._service = service
        self._endpoint_url = endpoint_url or None

    def __getattr__(self, name: str) -> object:
        return getattr(real_client(self._service, self._endpoint_url), name)

    def __repr__(self) -> str:
        return f"LazyClient({self._service!r})"


@overload
def client(service: Literal["dynamodb"], endpoint_url: str | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["stepfunctions"], endpoint_url: str | None = None) -> SFNClient: ...
@overload
def client(
    service: Literal["apigatewaymanagementapi"], endpoint_url: str | None = None
) -> ApiGatewayManagementApiClient: ...
@overload
def client(service: Literal["s3"], endpoint_url: str | None = None) -> Any: ...  # the help center's (no S3 stubs here)
def client(
    service: Literal["dynamodb", "stepfunctions", "apigatewaymanagementapi", "s3"], endpoint_url: str | None = None
) -> DynamoDBClient | SFNClient | ApiGatewayManagementApiClient | Any:
    """A low-level client for `service`, built (once per process) when first used: typed as the client it stands
    for, since every attribute it has is that client's."""
    return cast("DynamoDBClient | SFNClient | ApiGatewayManagementApiClient", LazyClient(service, endpoint_url))


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


T = TypeVar("T")


class TransientError(Exception):
    """AWS kept failing transiently (conflicts, throttles, 5xx) past every retry: the state machine retries the task."""


# Errors AWS answers under load that succeed when tried again: throttling, transaction conflicts, 5xx.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
    }
)
TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def cancellation_reasons(exc: Exception) -> list[str]:
    """The per-item reason codes of a TransactionCanceledException ("None" for items that were fine)."""
    response = getattr(exc, "response", None) or {}
    return [str(reason.get("Code", "None")) for reason in response.get("CancellationReasons") or []]


def is_transient(exc: Exception) -> bool:
    """True when trying the same request again may succeed (never for a failed condition)."""
    code = error_code(exc)
    if code == "TransactionCanceledException":
        reasons = cancellation_reasons(exc)
        return "ConditionalCheckFailed" not in reasons and any(r in TRANSIENT_REASONS for r in reasons)
    return code in TRANSIENT_CODES


def retry_transient(call: Callable[[], T], attempts: int = 10, base_delay: float = 0.05, max_delay: float = 0.5) -> T:
    """Run `call`, retrying transaction conflicts and throttling that outlasted the SDK's retries, with backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            time.sleep(min(max_delay, base_delay * 2**attempt) * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
    raise AssertionError("unreachable")  # pragma: no cover

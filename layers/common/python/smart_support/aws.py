"""boto3 clients, built once per process with one botocore Config (the only place clients are made)."""

from __future__ import annotations

import threading
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=20,
    tcp_keepalive=True,
    max_pool_connections=50,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_session_lock = threading.Lock()


@cache
def session() -> boto3.session.Session:
    """One session per process: each new session reloads the endpoint and service data (~0.1 s a cold start)."""
    return boto3.session.Session()


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    """A cached, thread-safe low-level client for `service`."""
    with _session_lock:  # a session is not thread-safe; the clients it makes are
        return session().client(service, config=CLIENT_CONFIG, endpoint_url=endpoint_url or None)


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB attribute values (None values dropped)."""
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in values.items() if v is not None}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values -> DynamoDB attribute values."""
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in values.items()}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """DynamoDB attribute values -> plain dict (numbers as int or float)."""
    if item is None:
        return None
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_dynamo(v) for v in value)
    return value


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))

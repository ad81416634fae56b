"""boto3 clients, built once per process from one session and one botocore Config."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=20,
    tcp_keepalive=True,
    max_pool_connections=50,
)


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


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))

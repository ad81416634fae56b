"""An emulated endpoint's answer as (status, headers, body), and the same answer handed to botocore in-process.

The functions run in the stack's process, so their calls to its own endpoints (@connections, Lambda Invoke) are
answered from botocore's `before-send` by the endpoint's handler, after the gate (IAM, LOCAL_FAULTS), without a
loopback HTTP request: as moto answers DynamoDB in-process.
"""

from __future__ import annotations

import io
import json
from typing import Any

from botocore.awsrequest import AWSResponse

Reply = tuple[int, dict[str, str], bytes]


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer with these extra headers."""
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(payload).encode()


def request_header(request: Any, name: str, default: str) -> str:
    """A header of a botocore request as text (botocore keeps some as bytes)."""
    value = request.headers.get(name, default)
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def request_body(request: Any) -> bytes:
    """A botocore request's body as bytes."""
    body = request.body
    return body if isinstance(body, bytes) else str(body or "").encode()


def botocore_response(url: str, status: int, headers: dict[str, str], raw: bytes) -> AWSResponse:
    """What botocore would have read from the endpoint over HTTP."""
    return AWSResponse(url, status, headers, _Body(raw))


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


__all__ = ["Reply", "botocore_response", "json_reply", "request_body", "request_header"]

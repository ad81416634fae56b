"""A model call that failed part-way: which failures are worth another try, and the shape Bedrock's arrive in.

Bedrock errors before a ConverseStream opens are ordinary ClientErrors (`ThrottlingException`, ...) that botocore's
retry mode retries. Once the stream opened, an error arrives as an exception event: botocore raises `EventStreamError`
with the event's lower-camel-case code (`throttlingException`, `modelStreamErrorException`, ...) and no retry mode
ever sees it; a stream cut short surfaces as urllib3's ProtocolError or ReadTimeoutError. The OpenAI-compatible
provider raises openai's `RateLimitError`, `APIConnectionError` (`APITimeoutError`), `InternalServerError`, or httpx's
transport errors mid-stream. The graph retries these model calls itself, and the state machine retries the task once
those retries are spent (agent/retry.py), throttling with the longer backoff.

`LOCAL_FAULTS` reaches the offline model through `inject_faults` (`bedrock.ConverseStream=throttlingException@0.3`):
it then raises `stream_error(code)`, parsed by botocore from the bytes Bedrock sends, so it is the exact exception.
"""

from __future__ import annotations

import binascii
import json
import struct
import sys
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, Literal

from botocore.exceptions import ClientError, EventStreamError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

Failure = Literal["throttled", "transient"]

# Error codes compared case-insensitively: Bedrock says `ThrottlingException` before a stream and
# `throttlingException` in it (docs/operations.md cites both).
THROTTLED_CODES = frozenset(
    code.casefold()
    for code in ("ThrottlingException", "TooManyRequestsException", "ModelNotReadyException", "Throttling")
)
TRANSIENT_CODES = frozenset(
    code.casefold()
    for code in (
        "ModelStreamErrorException",
        "InternalServerException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
    )
)
OPENAI_THROTTLED = ("RateLimitError",)
OPENAI_TRANSIENT = ("APIConnectionError", "APITimeoutError", "InternalServerError")


def model_failure(exc: BaseException) -> Failure | None:
    """ "throttled" or "transient" when the same model call may succeed if tried again; None otherwise."""
    if isinstance(exc, ClientError):
        code = str((exc.response or {}).get("Error", {}).get("Code", "")).casefold()
        if code in THROTTLED_CODES:
            return "throttled"
        return "transient" if code in TRANSIENT_CODES else None
    openai = sys.modules.get("openai")  # loaded whenever one of its errors exists
    if openai is not None:
        if isinstance(exc, tuple(getattr(openai, name) for name in OPENAI_THROTTLED)):
            return "throttled"
        if isinstance(exc, tuple(getattr(openai, name) for name in OPENAI_TRANSIENT)):
            return "transient"
    if isinstance(exc, ConnectionError | TimeoutError | BotocoreConnectionError | HTTPClientError):
        return "transient"
    return "transient" if _transport_failure(exc) else None


def _transport_failure(exc: BaseException) -> bool:
    """A stream cut short or a read that timed out, as urllib3 (Bedrock) or httpx (OpenAI-compatible) raise it."""
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    if isinstance(exc, ProtocolError | ReadTimeoutError):
        return True
    for name in ("httpx", "httpx2"):  # openai's HTTP client (httpx2 in openai 3)
        client = sys.modules.get(name)
        if client is not None and isinstance(exc, client.TransportError):
            return True
    return False


def is_throttled(exc: BaseException) -> bool:
    """The model provider throttled the call (retried with the longer backoff)."""
    return model_failure(exc) == "throttled"


def is_transient(exc: BaseException) -> bool:
    """The model call failed in a way another try may not."""
    return model_failure(exc) is not None


# ---------------------------------------------------------------- the exact shape, for LOCAL_FAULTS

FaultSource = Callable[[str], str | None]
_fault_sources: list[FaultSource] = []  # at most one: the emulator's


def inject_faults(source: FaultSource | None) -> None:
    """Have the offline model ask `source(operation)` for an error code to fail each call with (None: no faults)."""
    _fault_sources[:] = [source] if source is not None else []


def injected_fault(operation: str) -> str | None:
    """The error code an emulator wants this model call (`ConverseStream`) to fail with, if any."""
    return _fault_sources[0](operation) if _fault_sources else None


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message (prelude, string headers, payload, CRCs), as Bedrock streams them."""
    raw_headers = b"".join(
        struct.pack("!B", len(name.encode()))
        + name.encode()
        + struct.pack("!BH", 7, len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + raw_headers + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> Iterator[bytes]:
        yield self._data


STREAM_MESSAGES = {
    "throttlingException": "Too many tokens, please wait before trying again.",
    "modelStreamErrorException": "The model stream was interrupted.",
    "internalServerException": "The system encountered an unexpected error during processing. Try your request again.",
    "serviceUnavailableException": "Bedrock is unable to process your request.",
}


@cache
def _converse_stream_shape() -> Any:
    """The event-stream shape of bedrock-runtime's ConverseStream output, from botocore's own service model (read
    here, not through the clients' session: the faults must not build or change anything the clients use)."""
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    model = ServiceModel(create_loader().load_service_model("bedrock-runtime", "service-2"), "bedrock-runtime")
    return model.operation_model("ConverseStream").output_shape.members["stream"]


def stream_error(code: str, message: str | None = None) -> EventStreamError:
    """What botocore raises when Bedrock sends exception event `code` (e.g. `throttlingException`) mid-ConverseStream:
    the event's bytes parsed by botocore's own event-stream parser for bedrock-runtime's ConverseStream."""
    from botocore.eventstream import EventStream
    from botocore.parsers import EventStreamJSONParser

    shape = _converse_stream_shape()
    headers = {":message-type": "exception", ":exception-type": code, ":content-type": "application/json"}
    raw = event_message(headers, json.dumps({"message": message or STREAM_MESSAGES.get(code, code)}).encode())
    try:
        for _ in EventStream(_Bytes(raw), shape, EventStreamJSONParser(), "ConverseStream"):
            pass
    except EventStreamError as exc:
        return exc
    raise AssertionError(f"botocore parsed {code!r} as an event, not an error")  # pragma: no cover

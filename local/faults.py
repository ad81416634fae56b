"""LOCAL_FAULTS: AWS errors on demand, with each service's real error shape, where the SDK would receive them.

Grammar: comma-separated `service.Operation=ErrorCode@probability`, for example
`dynamodb.TransactWriteItems=TransactionConflict@0.3,stepfunctions.SendTaskSuccess=ThrottlingException@0.2`.
`service` is the boto3 client name (dynamodb, stepfunctions, apigatewaymanagementapi, ssm, lambda); `Operation` may
be `*`. `TransactionConflict` arrives as `TransactionCanceledException` with that cancellation reason on a
transaction (`TransactionConflictException` on a single-item write); `ThrottlingError` likewise as a cancellation
reason. The fault is answered from `before-send`, so botocore's own retries see it as they would see AWS's.
`bedrock.ConverseStream=<code>` fails the offline model's calls part-way with the `EventStreamError` botocore raises
when Bedrock sends that exception event after the stream opened (codes in lower camel case, as Bedrock sends them:
`throttlingException`, `modelStreamErrorException`, `internalServerException`, `serviceUnavailableException`).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

# boto3 client name -> botocore's hyphenized service id (what before-send events carry)
SERVICE_IDS = {"stepfunctions": "sfn", "sfn": "sfn"}
# Error codes and the HTTP status each service answers them with
STATUS = {
    "GoneException": 410,
    "ForbiddenException": 403,
    "AccessDeniedException": 400,
    "LimitExceededException": 429,
    "TooManyRequestsException": 429,
    "InternalServerError": 500,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "ServiceException": 500,
    "SlowDown": 503,
    "AccessDenied": 403,
}
REST_SERVICES = {"apigatewaymanagementapi", "lambda"}  # rest-json: the code travels in x-amzn-ErrorType
JSON_NAMESPACES = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "sfn": "",
    "ssm": "",
}
CANCELLATION_REASONS = {
    "TransactionConflict": "Transaction is ongoing for the item",
    "ThrottlingError": "Throughput exceeds the current capacity for one or more global secondary indexes.",
}
MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ProvisionedThroughputExceededException": "The level of configured provisioned throughput for the table was "
    "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    "TransactionConflictException": "Transaction is ongoing for the item",
    "GoneException": None,
    "LimitExceededException": "Rate exceeded",
    "InternalServerError": "Internal server error",
}


class FaultSpecError(ValueError):
    """LOCAL_FAULTS is not in the documented grammar."""


@dataclass(frozen=True)
class Fault:
    """One rule: on `service`.`operation` answer `code` with `probability`."""

    service: str
    operation: str
    code: str
    probability: float

    def applies(self, service: str, operation: str) -> bool:
        """This rule covers the call."""
        return self.service == service and self.operation in ("*", operation)


def parse_faults(spec: str | None) -> list[Fault]:
    """Parse LOCAL_FAULTS (empty or unset: no faults)."""
    faults = []
    for raw in (spec or "").split(","):
        part = raw.strip()
        if not part:
            continue
        try:
            target, rest = part.split("=", 1)
            service, operation = target.strip().split(".", 1)
            code, probability = rest.strip().rsplit("@", 1)
            chance = float(probability)
        except ValueError as exc:
            raise FaultSpecError(f"LOCAL_FAULTS entry {part!r} is not service.Operation=ErrorCode@probability") from exc
        if not 0 <= chance <= 1 or not code.strip() or not operation.strip():
            raise FaultSpecError(f"LOCAL_FAULTS entry {part!r}: probability must be in [0, 1]")
        name = service.strip().lower()
        faults.append(Fault(SERVICE_IDS.get(name, name), operation.strip(), code.strip(), chance))
    return faults


class _Body(BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


@dataclass
class FaultPlan:
    """Decides, per request, whether to answer with an error; counts what it injected."""

    faults: list[Fault] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, service: str, operation: str) -> str | None:
        """The error code to answer this call with, if a rule fires."""
        for fault in self.faults:
            if fault.applies(service, operation):
                with self._lock:
                    fired = self.rng.random() < fault.probability
                    if fired:
                        self.injected[f"{service}.{operation}={fault.code}"] += 1
                if fired:
                    return fault.code
        return None


def error_response(service: str, operation: str, code: str, body: dict[str, Any], message: str | None = None) -> Any:
    """An AWSResponse with `code` in `service`'s wire format (what botocore parses into a ClientError)."""
    from botocore.awsrequest import AWSResponse

    request_id = str(uuid.uuid4())
    payload: dict[str, Any]
    if service == "dynamodb" and code in CANCELLATION_REASONS:
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return _cancelled(body, code, request_id)
        code = "TransactionConflictException" if code == "TransactionConflict" else "ThrottlingException"
    text = message if message is not None else MESSAGES.get(code, code)
    if service == "s3":
        return _s3_error("AccessDenied" if code == "AccessDeniedException" else code, text or code, request_id)
    status = STATUS.get(code, 400)
    if service in REST_SERVICES and code == "AccessDeniedException":
        status = 403
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
    if service in REST_SERVICES:
        headers["Content-Type"] = "application/json"
        payload = {"message": text, "Message": text}
    else:
        headers["Content-Type"] = "application/x-amz-json-1.0"
        payload = {"__type": JSON_NAMESPACES.get(service, "") + code, "message": text}
    raw = json.dumps(payload).encode()
    return AWSResponse("https://local-stack/fault", status, headers, _Body(raw))


def _s3_error(code: str, message: str, request_id: str) -> Any:
    """S3's rest-xml error: the code in an <Error> document (botocore reads a HEAD's from the status alone)."""
    from xml.sax.saxutils import escape

    from botocore.awsrequest import AWSResponse

    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code><Message>{escape(message)}'
        f"</Message><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = {"x-amz-request-id": request_id, "Content-Type": "application/xml"}
    return AWSResponse("https://local-stack/fault", STATUS.get(code, 400), headers, _Body(body))


def _cancelled(body: dict[str, Any], reason: str, request_id: str) -> Any:
    """TransactionCanceledException with `reason` on one item and None on the others, as DynamoDB reports it."""
    from botocore.awsrequest import AWSResponse

    count = max(1, len(body.get("TransactItems", [])))
    victim = random.randrange(count)
    reasons = [
        {"Code": reason, "Message": CANCELLATION_REASONS.get(reason, reason)} if i == victim else {"Code": "None"}
        for i in range(count)
    ]
    codes = ", ".join(r["Code"] for r in reasons)
    payload = {
        "__type": JSON_NAMESPACES["dynamodb"] + "TransactionCanceledException",
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        "CancellationReasons": reasons,
    }
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
    return AWSResponse("https://local-stack/fault", 400, headers, _Body(json.dumps(payload).encode()))


__all__ = ["Fault", "FaultPlan", "FaultSpecError", "error_response", "parse_faults"]

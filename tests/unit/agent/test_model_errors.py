"""Which model failures are worth another try, in the shapes each provider raises them (agent/model_errors.py)."""

from __future__ import annotations

import httpx2
import openai
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, EventStreamError, ReadTimeoutError
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

from smart_support.agent import model_errors
from smart_support.agent.retry import ThrottlingError, transient_failure
from smart_support.aws import TransientError

REQUEST = httpx2.Request("POST", "http://127.0.0.1:8081/v1/chat/completions")


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "ConverseStream")


def openai_status(cls: type[openai.APIStatusError], status: int) -> openai.APIStatusError:
    return cls("x", response=httpx2.Response(status, request=REQUEST), body=None)


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        # Bedrock after the stream opened: lower camel case, as the exception event names it
        (model_errors.stream_error("throttlingException"), "throttled"),
        (model_errors.stream_error("modelStreamErrorException"), "transient"),
        (model_errors.stream_error("internalServerException"), "transient"),
        (model_errors.stream_error("serviceUnavailableException"), "transient"),
        (model_errors.stream_error("validationException"), None),
        # Bedrock before it: what botocore's own retries gave up on
        (client_error("ThrottlingException"), "throttled"),
        (client_error("ModelTimeoutException"), "transient"),
        (client_error("AccessDeniedException"), None),
        # A stream cut short, a read that timed out
        (ProtocolError("Connection broken: IncompleteRead(12 bytes read)"), "transient"),
        (Urllib3ReadTimeout(None, "/model/x/converse-stream", "Read timed out."), "transient"),  # type: ignore[arg-type]  # urllib3 types its pool
        (ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com"), "transient"),
        (EndpointConnectionError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com"), "transient"),
        (ConnectionResetError(104, "Connection reset by peer"), "transient"),
        # The OpenAI-compatible provider
        (openai_status(openai.RateLimitError, 429), "throttled"),
        (openai_status(openai.InternalServerError, 500), "transient"),
        (openai.APIConnectionError(request=REQUEST), "transient"),
        (openai.APITimeoutError(request=REQUEST), "transient"),
        (httpx2.RemoteProtocolError("peer closed connection without sending complete message body"), "transient"),
        (openai_status(openai.AuthenticationError, 401), None),
        (openai_status(openai.BadRequestError, 400), None),
        # Not the model's
        (ValueError("bad"), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_model_failures_are_classified_whatever_the_provider_and_the_case_of_the_code(error, failure):
    # Given a model call that failed with `error`
    # When it is classified, and the task fails with it
    kind = model_errors.model_failure(error)
    task_error = transient_failure(error)
    # Then throttling and transient failures are retried (throttling with the longer backoff), others are not
    assert kind == failure
    expected = {"throttled": ThrottlingError, "transient": TransientError, None: type(None)}[failure]
    assert type(task_error) is expected


def test_the_offline_models_fault_is_the_event_stream_error_botocore_raises():
    # Given the exception event Bedrock sends when it throttles mid-stream
    # When the offline model's fault is made for it
    error = model_errors.stream_error("throttlingException")
    # Then it is botocore's EventStreamError with the lower-case code and Bedrock's message
    assert isinstance(error, EventStreamError)
    assert error.operation_name == "ConverseStream"
    assert error.response["Error"] == {
        "Code": "throttlingException",
        "Message": "Too many tokens, please wait before trying again.",
    }


def test_no_fault_is_drawn_unless_an_emulator_injects_them():
    assert model_errors.injected_fault("ConverseStream") is None
    model_errors.inject_faults(lambda operation: "throttlingException" if operation == "ConverseStream" else None)
    try:
        assert model_errors.injected_fault("ConverseStream") == "throttlingException"
    finally:
        model_errors.inject_faults(None)
    assert model_errors.injected_fault("ConverseStream") is None

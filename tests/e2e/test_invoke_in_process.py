"""The state machine's Lambda invocations, answered in the stack's process after the gate (local.services)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.faults import FaultPlan, parse_faults
from local.inprocess import InProcessStack
from local.template import REGION

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def inproc() -> Iterator[InProcessStack]:
    stack = InProcessStack(OFFLINE_TOKEN_DELAY_MS="0").start()
    yield stack
    stack.stop()


def lambda_client(stack: InProcessStack, access_key: str = "ak") -> Any:
    """A Lambda client as moto's interpreter builds one ("ak" is its access key: the state machine's role)."""
    return boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url=stack.stack.config.base_url,
        aws_access_key_id=access_key,
        aws_secret_access_key="sk",
        config=Config(retries={"max_attempts": 0, "total_max_attempts": 1}),
    )


def test_the_state_machines_invocations_run_in_process_with_lambdas_answers(inproc):
    invocations = inproc.stack.functions.invocations
    before = invocations["AgentFunction"]
    # When the state machine's role invokes its function with an event the function cannot handle
    response = lambda_client(inproc).invoke(FunctionName="AgentFunction", Payload=json.dumps({"task": "nope"}))
    # Then the function ran and its error comes back as Lambda gives it: 200, FunctionError, the error payload
    assert invocations["AgentFunction"] == before + 1
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    error = json.loads(response["Payload"].read())
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    # And no HTTP server answered it (aiohttp would add its Server header)
    assert "server" not in response["ResponseMetadata"]["HTTPHeaders"]


def test_an_event_invocation_is_accepted_at_once_and_runs(inproc):
    invocations = inproc.stack.functions.invocations
    before = invocations["AgentFunction"]
    response = lambda_client(inproc).invoke(
        FunctionName="AgentFunction", InvocationType="Event", Payload=json.dumps({"task": "nope"})
    )
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 10
    while invocations["AgentFunction"] == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert invocations["AgentFunction"] == before + 1


def test_the_gate_still_decides_first_iam_and_faults(inproc):
    invocations = inproc.stack.functions.invocations
    before = invocations["AgentFunction"]
    client = lambda_client(inproc)
    # A function the state machine's role may not invoke is refused by IAM, as in AWS
    with pytest.raises(ClientError) as denied:
        client.invoke(FunctionName="MessageFunction", Payload=b"{}")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # A LOCAL_FAULTS fault on lambda.Invoke is injected before the function runs
    gate = inproc.stack.gate
    assert gate is not None
    saved = gate.faults
    gate.faults = FaultPlan(parse_faults("lambda.Invoke=TooManyRequestsException@1"))
    try:
        with pytest.raises(ClientError) as throttled:
            client.invoke(FunctionName="AgentFunction", Payload=b"{}")
    finally:
        gate.faults = saved
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert invocations["AgentFunction"] == before


def test_a_call_without_the_invoke_key_is_refused_and_an_unknown_function_is_not_found(inproc):
    # A call the gate does not attribute to the state machine (the stack's own, here) carries no invoke key
    with pytest.raises(ClientError) as refused:
        lambda_client(inproc, access_key="local").invoke(FunctionName="AgentFunction", Payload=b"{}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # The endpoint's own answer for a name it does not know
    status, headers, body = inproc.stack.lambdas.invoke_call(
        inproc.stack.invoke_key, "NoSuchFunction", "RequestResponse", b""
    )
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")
    assert json.loads(body)["message"] == "Function not found: NoSuchFunction"


def test_a_turn_runs_through_it(inproc):
    from websockets.sync.client import connect

    from tests.e2e.conftest import Client

    before = inproc.stack.functions.invocations["AgentFunction"]
    with Client(connect(inproc.ws_url(inproc.token("c-invoke")), open_timeout=10)) as client:
        assert client.ask("t-invoke-in-process", "Hello")[-1]["type"] == "message_complete"
    assert inproc.stack.functions.invocations["AgentFunction"] > before


def test_the_handshake_is_refused_as_api_gateway_answers_the_authorizer(inproc, monkeypatch):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{inproc.port}/ws?token=garbage"
    authorizer = inproc.stack.functions.functions["AuthorizerFunction"]
    if authorizer.module is None:
        authorizer.load()

    def handshake_status() -> int:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=10)
        return refused.value.response.status_code

    # When the authorizer refuses a token with its Deny policy, then the handshake is refused with 403
    assert handshake_status() == 403
    # When an authorizer raises Unauthorized instead (AWS's other documented refusal), then the answer is 401
    monkeypatch.setattr(authorizer.module, "lambda_handler", lambda event, context: _raise_unauthorized())
    assert handshake_status() == 401


def _raise_unauthorized() -> None:
    raise Exception("Unauthorized")  # the exact error API Gateway answers 401 to

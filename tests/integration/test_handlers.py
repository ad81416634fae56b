"""The thin handlers with the sample events from events/ (the ones `sam local invoke` uses), on moto."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from local.lambdas import LocalFunction
from local.template import ROOT
from smart_support import services
from smart_support.auth.tokens import mint_token
from smart_support.settings import InvalidSettings, load_settings

SECRET = "handler-test-secret-0123456789abcdef-xyz"


def forget_process_caches():
    load_settings.cache_clear()
    for factory in vars(services).values():
        if hasattr(factory, "cache_clear"):
            factory.cache_clear()


def sample(name):
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


@pytest.fixture
def handlers(dynamodb, monkeypatch):
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = (ROOT / "statemachine/turn.asl.json").read_text()
    definition = definition.replace("${ApprovalTimeoutSeconds}", "5").replace("${", "").replace("Arn}", "Arn")
    arn = sfn.create_state_machine(name="turns", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")[
        "stateMachineArn"
    ]
    for variable, table in (
        ("CONVERSATIONS_TABLE", "ConversationsTable"),
        ("ORDERS_TABLE", "OrdersTable"),
        ("CHECKPOINTS_TABLE", "CheckpointsTable"),
    ):
        monkeypatch.setenv(variable, table)
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    monkeypatch.setenv("ALLOW_ANONYMOUS", "false")
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", "https://abc123.execute-api.us-east-1.amazonaws.com/dev")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    forget_process_caches()

    def load(name):
        function = LocalFunction(name, f"functions/{name}", "app.lambda_handler", 256, 10, {})
        function.load()
        return function

    yield load, sfn, arn
    forget_process_caches()


def test_connect_message_disconnect_with_sample_events(handlers, dynamodb):
    load, sfn, arn = handlers
    # $connect records the connection with its principal
    result, error = load("connect").invoke(sample("connect"))
    assert error is None and result["statusCode"] == 200
    item = dynamodb.get_item(
        TableName="ConversationsTable", Key={"PK": {"S": "CONN#Gyv0XcD9IAMCJeQ="}, "SK": {"S": "CONN"}}
    )["Item"]
    assert item["principal_id"]["S"] == "demo-customer" and int(item["expires_at"]["N"]) > 0
    # a message starts one execution and replies nothing
    result, error = load("message").invoke(sample("message_status"))
    assert error is None and result == {"statusCode": 200}
    runs = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(runs) == 1
    # a bad frame is answered on the route response
    bad = sample("message_status") | {"body": "{oops"}
    result, _ = load("message").invoke(bad)
    assert json.loads(result["body"])["code"] == "invalid_json"
    # $disconnect forgets the connection
    result, error = load("disconnect").invoke(sample("disconnect"))
    assert error is None
    assert "Item" not in dynamodb.get_item(
        TableName="ConversationsTable", Key={"PK": {"S": "CONN#Gyv0XcD9IAMCJeQ="}, "SK": {"S": "CONN"}}
    )


def test_websocket_authorizer_allows_a_valid_token_and_refuses_others(handlers):
    load, _, _ = handlers
    authorizer = load("authorizer")
    event = sample("authorizer_ws")
    now = int(time.time())
    event["queryStringParameters"] = {"token": mint_token(SECRET, "c-2001", "operator", now=now)}
    result, error = authorizer.invoke(event)
    assert error is None
    context = {"sub": "c-2001", "role": "operator", "exp": str(now + 12 * 3600)}  # exp: frames after it are refused
    assert result["principalId"] == "c-2001" and result["context"] == context
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    for token, why in (("garbage", "invalid"), (None, "missing")):
        event["queryStringParameters"] = {"token": token} if token else {}
        result, error = authorizer.invoke(event)
        # A refusal is an explicit Deny of the handshake, never an error (Errors are the authorizer's crashes)
        assert error is None
        assert result["policyDocument"]["Statement"] == [
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [event["methodArn"]]}
        ]
        assert result["principalId"] == "refused" and result["context"] == {"refused": why}


def test_http_authorizer_simple_responses(handlers):
    load, _, _ = handlers
    authorizer = load("authorizer")
    event = sample("authorizer_http")
    now = int(time.time())
    event["headers"]["authorization"] = f"Bearer {mint_token(SECRET, 'op', 'operator', now=now)}"
    ok, _ = authorizer.invoke(event)
    assert ok == {"isAuthorized": True, "context": {"sub": "op", "role": "operator", "exp": str(now + 12 * 3600)}}
    # A refused token still reaches the API, marked, so that it answers 401 in the API's error envelope
    del event["headers"]["authorization"]
    refused, _ = authorizer.invoke(event)
    assert refused == {"isAuthorized": True, "context": {"refused": "missing"}}
    event["headers"]["authorization"] = "Bearer x.y.z"
    forged, _ = authorizer.invoke(event)
    assert forged == {"isAuthorized": True, "context": {"refused": "invalid"}}


def test_a_function_whose_settings_are_missing_fails_its_cold_start_naming_them(handlers, monkeypatch):
    # Given the message function's environment without its state machine and with a bad session TTL
    monkeypatch.delenv("STATE_MACHINE_ARN")
    monkeypatch.setenv("SESSION_TTL_SECONDS", "half an hour")
    forget_process_caches()
    function = LocalFunction("message", "functions/message", "app.lambda_handler", 256, 10, {})

    # When Lambda imports the handler (the init phase) and then invokes it
    with pytest.raises(InvalidSettings) as init_error:
        function.load()
    _, error = function.invoke(sample("message_status"))

    # Then the import fails with a message naming each variable, and so does every invocation
    message = str(init_error.value)
    assert "STATE_MACHINE_ARN: field required" in message
    assert "SESSION_TTL_SECONDS: input should be a valid integer" in message
    assert "half an hour" not in message
    assert error is not None
    assert error["errorType"] == "InvalidSettings" and "STATE_MACHINE_ARN" in error["errorMessage"]


def http_event(path: str, request_id: str, sub: str) -> dict:
    """An HTTP API (payload 2.0) request of a customer the authorizer let through, as API Gateway sends it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "authorizer": {"lambda": {"sub": sub, "role": "customer"}},
        },
        "isBase64Encoded": False,
    }


def test_the_api_answers_requests_that_arrive_at_once_each_with_its_own(handlers):
    # Given the API function loaded once, as the local stack runs it (every function in one process)
    load, _, _ = handlers
    api = load("api")

    # When many customers ask for a thread at the same moment (each a DynamoDB read, then the answer)
    def ask(n: int) -> tuple[int, dict, dict | None]:
        result, error = api.invoke(http_event(f"/api/v1/sessions/t-{n}", f"req-{n}", f"c-{n}"))
        return n, result, error

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(64)))

    # Then each gets its own answer: Powertools keeps the current request on a class, so they take turns
    for n, result, error in answers:
        assert error is None, error
        body = json.loads(result["body"])
        assert result["statusCode"] == 404 and body["error"]["code"] == "not_found", result
        assert body["error"]["request_id"] == f"req-{n}"

"""The local stack's gate on boto3 and moto: AccessDenied as AWS says it, faults in each service's real shape."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.exceptions import TransactionCanceledException

from local import gate
from local.faults import FaultPlan, FaultSpecError, parse_faults
from local.gate import Gate, acting_as
from local.iam import roles_by_principal, translated_template
from local.moto_patches.item_locks import LOCKS, Plan
from local.template import ACCOUNT_ID, REGION, LocalResolver
from local.ttl import sweep_expired
from smart_support import aws

STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:smart-support-local-turn"
KEY = {"PK": {"S": "k"}, "SK": {"S": "s"}}


@pytest.fixture
def strict(dynamodb) -> Iterator[Gate]:
    translated = translated_template()
    resolver = LocalResolver(
        translated, parameters={"Stage": "local"}, physical={"WebSocketApi": "ws1", "TurnStateMachine": STATE_MACHINE}
    )
    installed = gate.install(Gate(roles_by_principal(translated, resolver), api_id="ws1"))
    yield installed
    gate.uninstall(installed)


def test_a_call_outside_the_functions_policy_is_access_denied_like_aws(strict, dynamodb):
    # When the connect function (conversations table only) reads the orders table
    with acting_as("ConnectFunction"), pytest.raises(ClientError) as raised:
        dynamodb.get_item(TableName="OrdersTable", Key={"order_id": {"S": "1042"}})
    # Then DynamoDB's AccessDeniedException, naming the role, the action and the table ARN
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert (
        f"assumed-role/ConnectFunctionRole/ConnectFunction is not authorized to perform: dynamodb:GetItem on "
        f"resource: arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/OrdersTable" in error["Message"]
    )
    assert strict.stats()["denied"][-1]["action"] == "dynamodb:GetItem"
    # And what the policy allows goes through
    with acting_as("ConnectFunction"):
        dynamodb.put_item(TableName="ConversationsTable", Item=KEY)


def test_a_transaction_needs_every_items_permission(strict, dynamodb):
    items = [
        {"Put": {"TableName": "ConversationsTable", "Item": KEY}},
        {"Put": {"TableName": "OrdersTable", "Item": {"order_id": {"S": "x"}}}},
    ]
    with acting_as("ApiFunction"), pytest.raises(ClientError) as raised:  # no permission on orders
        dynamodb.transact_write_items(TransactItems=items)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:PutItem" in raised.value.response["Error"]["Message"]
    assert "Item" not in dynamodb.get_item(TableName="ConversationsTable", Key=KEY)  # nothing was written


def test_step_functions_and_ssm_are_matched_by_resource(strict, dynamodb):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    with acting_as("MessageFunction"), pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=STATE_MACHINE + "-other", name="n", input="{}")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/smart-support/auth-secret", Value="s3cr3t", Type="SecureString")
    with acting_as("AuthorizerFunction"):
        value = ssm.get_parameter(Name="/smart-support/auth-secret", WithDecryption=True)["Parameter"]["Value"]
    assert value == "s3cr3t"
    with acting_as("AgentFunction"), pytest.raises(ClientError):
        ssm.get_parameter(Name="/smart-support/auth-secret", WithDecryption=True)


def test_a_lambda_worker_call_without_credentials_is_refused(strict, dynamodb):
    errors = []

    def worker() -> None:
        try:
            dynamodb.get_item(TableName="ConversationsTable", Key=KEY)
        except ClientError as exc:
            errors.append(exc.response["Error"]["Code"])

    thread = threading.Thread(target=worker, name="lambda_99")
    thread.start()
    thread.join()
    assert errors == ["AccessDeniedException"]


def test_faults_arrive_in_each_services_real_shape_and_botocore_retries_them(strict, dynamodb):
    strict.roles["T"] = strict.roles["AgentFunction"]
    strict.faults = FaultPlan(parse_faults("dynamodb.GetItem=ThrottlingException@1"))
    no_retries = boto3.client("dynamodb", region_name=REGION, config=Config(retries={"max_attempts": 1}))
    standard = boto3.client(
        "dynamodb",
        region_name=REGION,
        config=aws.CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 2})),
    )
    with acting_as("T"), pytest.raises(ClientError) as raised:
        standard.get_item(TableName="ConversationsTable", Key=KEY)
    # throttling: retried by the SDK's standard mode, then the real error
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    strict.faults = FaultPlan(parse_faults("dynamodb.TransactWriteItems=TransactionConflict@1"))
    with acting_as("T"), pytest.raises(ClientError) as raised:
        no_retries.transact_write_items(TransactItems=[{"Put": {"TableName": "ConversationsTable", "Item": KEY}}])
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert raised.value.response["CancellationReasons"][0]["Code"] == "TransactionConflict"
    strict.faults = FaultPlan(parse_faults("apigatewaymanagementapi.PostToConnection=GoneException@1"))
    api = boto3.client("apigatewaymanagementapi", region_name=REGION, endpoint_url="http://127.0.0.1:9/local")
    with acting_as("T"), pytest.raises(ClientError) as raised:
        api.post_to_connection(ConnectionId="abc=", Data=b"{}")
    assert raised.value.response["Error"]["Code"] == "GoneException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert strict.stats()["faults"]["apigatewaymanagementapi.PostToConnection=GoneException"] == 1


def test_the_fault_grammar_is_checked():
    assert parse_faults("") == []
    faults = parse_faults("stepfunctions.SendTaskSuccess=ThrottlingException@0.2, dynamodb.*=ThrottlingException@0.1")
    assert [(f.service, f.operation, f.code, f.probability) for f in faults] == [
        ("sfn", "SendTaskSuccess", "ThrottlingException", 0.2),
        ("dynamodb", "*", "ThrottlingException", 0.1),
    ]
    for bad in ("dynamodb.PutItem", "dynamodb=X@0.1", "dynamodb.PutItem=X@2", "dynamodb.PutItem=X@often"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)


def test_transactions_on_the_same_item_conflict_and_other_items_do_not_wait(dynamodb):
    # Given a transaction holding an item (as it does while moto applies it)
    holder = Plan(items=[(0, "ConversationsTable", '["a"]', "write")], transaction=True)
    LOCKS.acquire(holder)
    try:
        # Then another transaction on that item is cancelled with TransactionConflict on it
        clash = Plan(
            items=[(0, "ConversationsTable", '["b"]', "write"), (1, "ConversationsTable", '["a"]', "write")],
            transaction=True,
        )
        with pytest.raises(TransactionCanceledException) as raised:
            LOCKS.acquire(clash)
        assert "[None, TransactionConflict]" in str(raised.value.description)
        # And a single write to it fails with TransactionConflictException, while other items are free
        with pytest.raises(Exception, match="TransactionConflictException"):
            LOCKS.acquire(Plan(items=[(0, "ConversationsTable", '["a"]', "write")]))
        other = Plan(items=[(0, "ConversationsTable", '["c"]', "write")])
        LOCKS.acquire(other)
        LOCKS.release(other, succeeded=True)
    finally:
        LOCKS.release(holder, succeeded=True)


def test_the_ttl_sweeper_deletes_only_expired_items(dynamodb):
    dynamodb.put_item(TableName="ConversationsTable", Item={**KEY, "expires_at": {"N": "100"}})
    dynamodb.put_item(
        TableName="ConversationsTable", Item={"PK": {"S": "k2"}, "SK": {"S": "s"}, "expires_at": {"N": "300"}}
    )
    dynamodb.put_item(TableName="ConversationsTable", Item={"PK": {"S": "k3"}, "SK": {"S": "s"}})
    assert sweep_expired(now=200) == 1
    left = {i["PK"]["S"] for i in dynamodb.scan(TableName="ConversationsTable")["Items"]}
    assert left == {"k2", "k3"}


def test_bedrock_calls_are_checked_against_the_invoke_model_actions_the_agent_is_granted(strict, dynamodb):
    # Given a Bedrock endpoint that streams an answer in the event-stream format (after the gate has looked)
    import json

    from botocore.awsrequest import AWSResponse

    from smart_support.agent.model_errors import event_message

    def stream(event_type: str, payload: dict) -> bytes:
        headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
        return event_message(headers, json.dumps(payload).encode())

    body = stream("messageStart", {"role": "assistant"}) + stream(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello!"}}
    )

    class Raw:
        def stream(self, **_: object) -> Iterator[bytes]:
            yield body

    bedrock = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url="https://bedrock.stub.invalid")
    bedrock.meta.events.register_last(  # on the same event as the gate's stubber, after it: an endpoint, not a bypass
        "before-send",
        lambda request, **_: AWSResponse(
            request.url, 200, {"content-type": "application/vnd.amazon.eventstream"}, Raw()
        ),
    )
    request = {
        "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
    }
    # When the agent (MODEL_PROVIDER=bedrock) calls ConverseStream, then its InvokeModelWithResponseStream grant lets it
    with acting_as("AgentFunction"):
        events = list(bedrock.converse_stream(**request)["stream"])
    assert events[-1]["contentBlockDelta"]["delta"]["text"] == "Hello!"
    # And a function the template grants no model is refused, naming the action and the inference profile
    with acting_as("MessageFunction"), pytest.raises(ClientError) as raised:
        bedrock.converse_stream(**request)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        "bedrock:InvokeModelWithResponseStream on resource: "
        f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/us.anthropic"
        in raised.value.response["Error"]["Message"]
    )

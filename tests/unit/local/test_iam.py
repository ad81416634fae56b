"""The template's roles as SAM translates them, checked the way AWS checks a call: action and resource ARN."""

from __future__ import annotations

import pytest

from local.iam import Call, Role, Statement, matches, required_permissions, roles_by_principal, translated_template
from local.template import ACCOUNT_ID, REGION, LocalResolver, load_template

STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:smart-support-local-turn"  # ${AWS::StackName}-turn


def table(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


@pytest.fixture(scope="module")
def roles() -> dict[str, Role]:
    translated = translated_template()
    resolver = LocalResolver(
        translated,
        parameters={"Stage": "local"},
        physical={"WebSocketApi": "localws", "TurnStateMachine": STATE_MACHINE},
    )
    return roles_by_principal(translated, resolver)


def test_every_function_and_the_state_machine_has_its_own_role(roles):
    functions = {k for k, v in load_template()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(roles) == functions | {"TurnStateMachine"}
    assert roles["AgentFunction"].name == "AgentFunctionRole"


def test_the_authorizer_may_read_exactly_the_secret_parameter_it_is_configured_with(roles):
    # Given the parameter name the template hands the authorizer (AUTH_SECRET_PARAMETER)
    name = load_template()["Parameters"]["AuthSecretParameterName"]["Default"]
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}"
    # Then its role allows GetParameter on that parameter's ARN, and on nothing else
    assert roles["AuthorizerFunction"].allows("ssm:GetParameter", arn)
    assert not roles["AuthorizerFunction"].allows("ssm:GetParameter", arn + "-other")
    assert not roles["MessageFunction"].allows("ssm:GetParameter", arn)


def test_dynamodb_policies_are_scoped_to_their_tables_and_indexes(roles):
    api = roles["ApiFunction"]
    assert api.allows("dynamodb:Query", table("ConversationsTable") + "/index/GSI1")
    assert not api.allows("dynamodb:GetItem", table("OrdersTable"))  # no code of the API reads orders
    assert not api.allows("dynamodb:Scan", table("ConversationsTable"))
    assert roles["AgentFunction"].allows("dynamodb:UpdateItem", table("OrdersTable"))
    assert not roles["AgentFunction"].allows("dynamodb:PutItem", table("OrdersTable"))
    connect = roles["ConnectFunction"]
    assert connect.allows("dynamodb:PutItem", table("ConversationsTable"))
    assert not connect.allows("dynamodb:GetItem", table("ConversationsTable"))  # it only writes its record
    assert not connect.allows("dynamodb:GetItem", table("OrdersTable"))
    assert not roles["MessageFunction"].allows("dynamodb:PutItem", table("CheckpointsTable"))


def test_step_functions_and_connections_are_scoped(roles):
    message = roles["MessageFunction"]
    assert message.allows("states:StartExecution", STATE_MACHINE)
    assert not message.allows("states:StartExecution", STATE_MACHINE + "Other")
    assert message.allows("states:SendTaskSuccess", STATE_MACHINE)
    assert roles["AgentFunction"].allows("states:StartExecution", STATE_MACHINE)  # a queued next turn
    assert not roles["AgentFunction"].allows("states:SendTaskSuccess", STATE_MACHINE)
    assert not roles["WorkflowFunction"].allows("states:StartExecution", STATE_MACHINE)
    post = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:localws/local/POST/@connections/abc="
    assert roles["AgentFunction"].allows("execute-api:ManageConnections", post)
    assert not roles["AgentFunction"].allows("execute-api:ManageConnections", post.replace("/POST/", "/DELETE/"))
    assert not roles["ConnectFunction"].allows("execute-api:ManageConnections", post)
    invoke = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:AgentFunction"
    assert roles["TurnStateMachine"].allows("lambda:InvokeFunction", invoke)
    assert roles["TurnStateMachine"].allows("lambda:InvokeFunction", invoke + ":live")
    assert not roles["TurnStateMachine"].allows("lambda:InvokeFunction", invoke.replace("Agent", "Api"))


def test_a_transaction_needs_each_items_action_on_each_items_table():
    call = Call(
        "dynamodb",
        "TransactWriteItems",
        "https://dynamodb",
        "POST",
        {
            "TransactItems": [
                {"Put": {"TableName": "A", "Item": {}}},
                {"Update": {"TableName": "B", "Key": {}}},
                {"ConditionCheck": {"TableName": "A", "Key": {}}},
            ]
        },
    )
    assert required_permissions(call, api_id="x") == [
        ("dynamodb:PutItem", table("A")),
        ("dynamodb:UpdateItem", table("B")),
        ("dynamodb:ConditionCheckItem", table("A")),
    ]


def test_resources_for_index_queries_connections_parameters_and_invokes():
    query = Call("dynamodb", "Query", "u", "POST", {"TableName": "T", "IndexName": "GSI1"})
    assert required_permissions(query, api_id="x") == [("dynamodb:Query", table("T") + "/index/GSI1")]
    url = "http://127.0.0.1:3000/local/@connections/a%3D"
    post = Call("apigatewaymanagementapi", "PostToConnection", url, "POST", {})
    assert required_permissions(post, api_id="ws1") == [
        ("execute-api:ManageConnections", f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:ws1/local/POST/@connections/a=")
    ]
    param = Call("ssm", "GetParameter", "u", "POST", {"Name": "/app/secret"})
    assert required_permissions(param, api_id="x") == [
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/app/secret")
    ]
    invoke = Call("lambda", "Invoke", "http://h/2015-03-31/functions/AgentFunction/invocations", "POST", {})
    assert required_permissions(invoke, api_id="x") == [
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:AgentFunction")
    ]
    token = Call("sfn", "SendTaskSuccess", "u", "POST", {"taskToken": "tok"})
    assert required_permissions(token, api_id="x", state_machine_of_token=lambda t: STATE_MACHINE) == [
        ("states:SendTaskSuccess", STATE_MACHINE)
    ]


@pytest.mark.parametrize(
    ("operation", "url", "expected"),
    [
        ("HeadObject", "https://s3.amazonaws.com/KnowledgeBucket/index/help-center.sqlite", "s3:GetObject"),
        ("GetObject", "https://kb-bucket.s3.us-east-1.amazonaws.com/index/help-center.sqlite", "s3:GetObject"),
        ("PutObject", "https://kb-bucket.s3.amazonaws.com/index/help-center.sqlite", "s3:PutObject"),
    ],
)
def test_an_s3_object_call_needs_its_action_on_the_object(operation, url, expected):
    bucket = "KnowledgeBucket" if "KnowledgeBucket" in url else "kb-bucket"
    call = Call("s3", operation, url, "GET", {})
    assert required_permissions(call, api_id="x") == [(expected, f"arn:aws:s3:::{bucket}/index/help-center.sqlite")]


def test_the_agent_reads_only_the_help_center_index_and_the_ingest_writes_only_it(roles):
    bucket, index, article = (
        "arn:aws:s3:::KnowledgeBucket",
        "arn:aws:s3:::KnowledgeBucket/index/help-center.sqlite",
        "arn:aws:s3:::KnowledgeBucket/articles/returns.md",
    )
    listing = Call("s3", "ListObjectsV2", "https://s3.amazonaws.com/KnowledgeBucket?list-type=2", "GET", {})
    assert required_permissions(listing, api_id="x") == [("s3:ListBucket", bucket)]
    agent, ingest = roles["AgentFunction"], roles["KnowledgeIngestFunction"]
    assert agent.allows("s3:GetObject", index) and agent.allows("s3:ListBucket", bucket)
    assert not agent.allows("s3:GetObject", article) and not agent.allows("s3:PutObject", index)
    assert ingest.allows("s3:GetObject", article) and ingest.allows("s3:PutObject", index)
    assert not ingest.allows("s3:PutObject", article) and not ingest.allows("s3:DeleteObject", article)
    assert not roles["ApiFunction"].allows("s3:GetObject", index)


def test_explicit_deny_wins_and_wildcards_match_like_iam():
    role = Role(
        "r",
        (
            Statement("Allow", actions=("dynamodb:*",), resources=("arn:aws:dynamodb:*:*:table/T*",)),
            Statement("Deny", actions=("dynamodb:DeleteItem",), resources=("*",)),
            Statement("Allow", actions=("s3:GetObject",), resources=("*",), conditional=True),
        ),
    )
    assert role.allows("dynamodb:GetItem", table("Tickets"))
    assert role.allows("DynamoDB:getitem", table("Tickets"))  # actions are case-insensitive
    assert not role.allows("dynamodb:GetItem", table("tickets"))  # resources are not
    assert not role.allows("dynamodb:DeleteItem", table("Tickets"))
    assert not role.allows("s3:GetObject", "arn:aws:s3:::b/k")  # a Condition never holds locally
    assert matches("a?c", "abc") and not matches("a?c", "abbc")
    assert not role.without("dynamodb:*").allows("dynamodb:GetItem", table("Tickets"))


def test_a_kept_decision_is_the_roles_own_and_a_revoked_role_refuses_at_once():
    # Given a role that has answered for a table, and is asked again (its kept answer)
    role = Role("r", (Statement("Allow", actions=("dynamodb:GetItem",), resources=(table("T"),)),))
    assert role.allows("dynamodb:GetItem", table("T")) and role.allows("dynamodb:GetItem", table("T"))

    # When the permission is revoked (a new role, as LOCAL_IAM_REVOKE makes), and other calls are asked
    revoked = role.without("dynamodb:GetItem")

    # Then the revoked role refuses although the original's answer was kept, and an answer is never reused for
    # another action or resource, or across roles with equal statements
    assert not revoked.allows("dynamodb:GetItem", table("T"))
    assert role.allows("dynamodb:GetItem", table("T"))
    assert not role.allows("dynamodb:GetItem", table("T2")) and not role.allows("dynamodb:PutItem", table("T"))
    assert role == Role("r", role.statements) and hash(role) == hash(Role("r", role.statements))


@pytest.mark.parametrize(
    ("operation", "action"),
    [("ConverseStream", "bedrock:InvokeModelWithResponseStream"), ("Converse", "bedrock:InvokeModel")],
)
def test_a_bedrock_model_call_needs_the_invoke_model_actions_the_template_grants_the_agent(roles, operation, action):
    # Given the agent calling Claude Haiku 4.5 through its region's inference profile (MODEL_PROVIDER=bedrock)
    model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    path = {"ConverseStream": "converse-stream", "Converse": "converse"}[operation]
    url = f"https://bedrock-runtime.{REGION}.amazonaws.com/model/{model.replace(':', '%3A')}/{path}"
    call = Call("bedrock-runtime", operation, url, "POST", {"messages": []})
    # When the gate asks what the call needs
    needed = required_permissions(call, api_id="localws")
    # Then it is bedrock's InvokeModel action on the profile and on the foundation model it routes to
    assert needed == [
        (action, f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/{model}"),
        (action, f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"),
    ]
    # And the agent's role allows it, as in AWS; no other function's does
    assert all(roles["AgentFunction"].allows(a, r) for a, r in needed)
    assert not any(roles["MessageFunction"].allows(a, r) for a, r in needed)

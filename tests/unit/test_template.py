"""What only a real deploy would show about template.yaml, checked on the template as SAM translates it: the APIs
redeploy on change, account-wide settings stay out of the stack by default, no partition or domain is hard-coded.
docs/operations.md cites the AWS behaviour each check stands for."""

from __future__ import annotations

from typing import Any

import pytest

from local.iam import translated_template
from local.template import load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return translated_template()["Resources"]


def of_type(resources: dict[str, Any], type_name: str) -> dict[str, Any]:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == type_name}


def test_every_change_to_either_api_goes_live_with_the_next_deploy(resources):
    # Given the APIs' stages, and any deployment resources, as CloudFormation gets them
    stages = of_type(resources, "AWS::ApiGatewayV2::Stage")
    # Then no fixed-id deployment pins a stage to the first version of its API: both stages deploy automatically
    assert of_type(resources, "AWS::ApiGatewayV2::Deployment") == {}
    assert set(stages) == {"HttpApiStage", "WebSocketStage"}
    assert all(stage["Properties"].get("AutoDeploy") is True for stage in stages.values())
    assert all("DeploymentId" not in stage["Properties"] for stage in stages.values())
    # And the WebSocket stage is created after every route, route response and the authorizer, so its first
    # deployment holds the whole API
    kinds = ("Route", "RouteResponse", "Authorizer")
    websocket = [
        logical_id
        for logical_id, r in resources.items()
        if r["Type"] in {f"AWS::ApiGatewayV2::{kind}" for kind in kinds}
        and r["Properties"].get("ApiId") == {"Ref": "WebSocketApi"}
    ]
    assert len(websocket) == 10 + 8 + 1
    assert set(websocket) <= set(stages["WebSocketStage"]["DependsOn"])


def test_the_account_wide_api_gateway_logging_role_is_left_alone_unless_asked_for():
    # Given the template as written (parameters and conditions are not in the translated form's scope)
    template = load_template()
    # Then by default no stack creates or overwrites the region's API Gateway account setting
    assert template["Parameters"]["CreateApiGatewayAccountRole"]["Default"] == "false"
    assert template["Conditions"]["MakeApiGatewayAccountRole"] == {
        "Fn::Equals": [{"Ref": "CreateApiGatewayAccountRole"}, "true"]
    }
    for logical_id in ("ApiGatewayCloudWatchRole", "ApiGatewayAccount"):
        assert template["Resources"][logical_id]["Condition"] == "MakeApiGatewayAccountRole"


def test_the_agents_log_group_exists_before_its_snapstart_version_is_published(resources):
    # Given the agent function, which publishes a SnapStart version (its init runs, and logs, at publish time)
    agent = resources["AgentFunction"]["Properties"]
    assert agent["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # Then its logging names the stack's log group, so the group is created before the function and its version
    assert agent["LoggingConfig"]["LogGroup"] == {"Ref": "AgentFunctionLogGroup"}
    # And the group's name does not wait for the function (no reference back to it)
    name = resources["AgentFunctionLogGroup"]["Properties"]["LogGroupName"]
    assert "AgentFunction" not in str(name)


def strings_outside_principals(value: Any, key: str = "") -> list[str]:
    """Every string in a template value, except IAM service principals (names, not endpoints)."""
    if key in ("Principal", "Service"):
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_outside_principals(v, k)]
    if isinstance(value, list):
        return [s for item in value for s in strings_outside_principals(item, key)]
    return [value] if isinstance(value, str) else []


def test_no_endpoint_hard_codes_the_aws_partitions_domain():
    # Given every string of the template: URLs it builds (outputs, environment, the Cognito issuer) and ARNs
    template = load_template()
    strings = strings_outside_principals({k: template[k] for k in ("Resources", "Outputs", "Globals")})
    # Then endpoints use AWS::URLSuffix (amazonaws.com.cn in China) and ARNs AWS::Partition
    assert [s for s in strings if "amazonaws.com" in s] == []
    assert [s for s in strings if "arn:aws:" in s] == []
    assert any("execute-api.${AWS::Region}.${AWS::URLSuffix}" in s for s in strings)

"""`make deploy`'s parameters: samconfig.toml's, with the deployer's on top (deploy/parameters.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy.parameters import changes_from, merged_overrides, parse_overrides
from deploy.site import DeployError

ROOT = Path(__file__).resolve().parents[2]


def test_the_deployers_parameters_go_on_top_of_the_environments():
    # Given make's command line: a model id, an identity mode, another parameter by name, and make's own variables
    words = [
        "CONFIG_ENV=prod",
        "REGION=eu-west-1",
        "MODEL_ID=eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        "IDENTITY_MODE=oidc",
        "AlarmEmail=on-call@example.com",
        "OidcIssuer=",
    ]
    # When they are merged with samconfig.toml's [prod] overrides
    merged = parse_overrides(merged_overrides("prod", changes_from(words)))
    # Then the environment's stay, the deployer's are added (or win), and make's own variables are not parameters
    assert merged == {
        "Stage": "prod",
        "ModelProvider": "bedrock",
        "AllowAnonymous": "false",
        "SessionTtlSeconds": "3600",
        "BedrockModelId": "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        "IdentityMode": "oidc",
        "AlarmEmail": "on-call@example.com",
        "OidcIssuer": "",
    }


def test_a_parameter_the_template_does_not_declare_stops_the_deploy():
    with pytest.raises(DeployError) as refused:
        merged_overrides("default", changes_from(["BedrockModel=x"]))
    assert "BedrockModel" in str(refused.value)


def test_make_deploy_hands_sam_the_merged_parameters_and_the_region():
    # When make prints what `make deploy` would run (nothing runs: -n)
    dry = subprocess.run(
        ["make", "-n", "deploy", "REGION=eu-west-1", "MODEL_ID=eu.x", "PARAMS=AlarmEmail=a@example.com"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Then sam deploy and the site's publish get the region, and the overrides come from deploy.parameters
    assert "--region eu-west-1 --parameter-overrides" in dry
    assert "deploy.site publish --config-env default --region eu-west-1" in dry
    assert (
        "deploy.parameters --config-env default" in dry and "MODEL_ID=eu.x" in dry and "AlarmEmail=a@example.com" in dry
    )

"""Shared fixtures: AWS credentials that can never reach a real account, moto tables from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from local.template import create_tables

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS API, Step Functions executing the real ASL."""
    from moto import mock_aws

    from local.moto_atomic import make_dynamodb_atomic

    make_dynamodb_atomic()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def dynamodb(aws: None):
    """A moto DynamoDB client with every table of template.yaml created from its own definition."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_tables(client)
    return client

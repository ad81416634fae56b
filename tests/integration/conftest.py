"""Fixtures shared by the moto integration tests."""

import boto3
import pytest

from local.template import ROOT, load_template
from smart_support.store.demo_data import seed_orders
from smart_support.store.orders import OrderStore


@pytest.fixture
def orders(dynamodb) -> OrderStore:
    """The orders table of template.yaml on moto, seeded with the demo orders."""
    store = OrderStore("OrdersTable", dynamodb=dynamodb)
    seed_orders(store)
    return store


class NoSender:
    """A client that left: every post is reported gone."""

    def send(self, connection_id, payload):
        return False


@pytest.fixture
def sfn(dynamodb):
    """The template's state machine on moto (its Lambda tasks name nothing that runs): (client, ARN)."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    props = load_template()["Resources"]["TurnStateMachine"]["Properties"]
    definition = (ROOT / props["DefinitionUri"]).read_text()
    for key in props["DefinitionSubstitutions"]:
        definition = definition.replace("${" + key + "}", "5" if "Seconds" in key else "NoSuchFunction")
    arn = client.create_state_machine(name="turns", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")[
        "stateMachineArn"
    ]
    return client, arn

"""local/moto_lean.py: moto stops keeping every object it made, and a transaction copies only what it touches."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from local.moto_lean import forget_finished_threads, make_moto_lean, retain_executions

TABLE = "ConversationsTable"


@pytest.fixture
def lean(dynamodb):
    make_moto_lean()
    return dynamodb


def key(pk: str) -> dict:
    return {"PK": {"S": pk}, "SK": {"S": "X"}}


def test_a_cancelled_transaction_puts_back_exactly_what_it_touched(lean):
    # Given an item, and another one a transaction will try to create beside a failing update
    lean.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
    lean.put_item(TableName=TABLE, Item={**key("untouched"), "n": {"N": "7"}})

    # When the transaction's condition fails on its second write
    with pytest.raises(ClientError) as error:
        lean.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("new"), "n": {"N": "2"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("a"),
                        "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":zero": {"N": "0"}},
                    }
                },
            ]
        )

    # Then DynamoDB's answer is unchanged, and the table is as it was
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in lean.get_item(TableName=TABLE, Key=key("new"))
    assert lean.get_item(TableName=TABLE, Key=key("a"))["Item"]["n"] == {"N": "1"}
    assert lean.get_item(TableName=TABLE, Key=key("untouched"))["Item"]["n"] == {"N": "7"}


def test_a_committed_transaction_copies_no_table_and_moto_keeps_no_object(lean):
    # Given a table with some items
    for i in range(20):
        lean.put_item(TableName=TABLE, Item={**key(f"item-{i}"), "n": {"N": str(i)}})

    # When transactions commit
    for i in range(5):
        lean.transact_write_items(
            TransactItems=[{"Put": {"TableName": TABLE, "Item": {**key(f"tx-{i}"), "n": {"N": "1"}}}}]
        )

    # Then moto tracked no model object (it used to keep every one, copies of whole tables included)
    assert getattr(Table, "instances_tracked") == [] and getattr(Item, "instances_tracked") == []  # noqa: B009
    assert lean.get_item(TableName=TABLE, Key=key("tx-4"))["Item"]["n"] == {"N": "1"}


def test_only_the_newest_finished_executions_are_kept(aws):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    make_moto_lean()
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    # Given six finished executions
    for i in range(6):
        started = sfn.start_execution(stateMachineArn=arn, name=f"e{i}")
        deadline = time.monotonic() + 10
        while sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.01)

    # When all but the newest two are forgotten, and the interpreter's finished threads with them
    dropped = retain_executions(stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID]["us-east-1"], keep=2)
    forget_finished_threads()

    # Then the newest two are still there, and moto holds no finished thread
    from moto.stepfunctions.parser.utils import TMP_THREADS

    assert dropped == 4
    assert all(thread.is_alive() for thread in TMP_THREADS)
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
    assert sorted(names) == ["e4", "e5"]

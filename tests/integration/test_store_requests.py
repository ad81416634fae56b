"""store/dynamodb.py on moto: a failed condition hands back the old item; other failures become the stores' errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from smart_support.store.analytics import AnalyticsStore
from smart_support.store.dynamodb import (
    ConditionFailed,
    StoreError,
    TransactionCancelled,
    conditional_write,
    store_errors,
    transact_write,
)
from smart_support.store.sessions import SessionStore

TABLE = "ConversationsTable"
ITEM = {"PK": {"S": "X#1"}, "SK": {"S": "X"}, "note": {"S": "first"}}


def test_a_failed_condition_carries_the_item_as_it_was(dynamodb):
    # Given an item
    dynamodb.put_item(TableName=TABLE, Item=ITEM)

    # When a put that must create it runs again
    with pytest.raises(ConditionFailed) as failed:
        conditional_write(
            dynamodb.put_item,
            TableName=TABLE,
            Item={**ITEM, "note": {"S": "second"}},
            ConditionExpression="attribute_not_exists(PK)",
        )

    # Then the error holds the stored item, unchanged
    assert failed.value.old == ITEM
    assert dynamodb.get_item(TableName=TABLE, Key={"PK": ITEM["PK"], "SK": ITEM["SK"]})["Item"] == ITEM


def test_a_write_that_meets_its_condition_returns_the_response(dynamodb):
    # When an update's condition holds
    response = conditional_write(
        dynamodb.update_item,
        TableName=TABLE,
        Key={"PK": ITEM["PK"], "SK": ITEM["SK"]},
        UpdateExpression="SET note = :n",
        ConditionExpression="attribute_not_exists(PK)",
        ExpressionAttributeValues={":n": {"S": "new"}},
        ReturnValues="ALL_NEW",
    )

    # Then DynamoDB's response comes back
    assert response["Attributes"]["note"] == {"S": "new"}


def test_other_failures_become_store_errors_with_the_aws_code(dynamodb):
    # When a write and a read go to a table that does not exist
    with pytest.raises(StoreError) as write_failed:
        conditional_write(
            dynamodb.put_item, TableName="NoSuchTable", Item=ITEM, ConditionExpression="attribute_not_exists(PK)"
        )
    with pytest.raises(StoreError) as read_failed, store_errors():
        dynamodb.get_item(TableName="NoSuchTable", Key={"PK": ITEM["PK"], "SK": ITEM["SK"]})

    # Then each names the operation and AWS's error code, and keeps the ClientError as its cause
    assert (write_failed.value.operation, write_failed.value.code) == ("PutItem", "ResourceNotFoundException")
    assert (read_failed.value.operation, read_failed.value.code) == ("GetItem", "ResourceNotFoundException")
    assert isinstance(read_failed.value.__cause__, ClientError)


def test_a_cancelled_transaction_writes_nothing(dynamodb):
    # Given an item
    dynamodb.put_item(TableName=TABLE, Item=ITEM)
    other = {"PK": {"S": "X#2"}, "SK": {"S": "X"}}

    # When a transaction puts a new item and (conditionally) the existing one again
    with pytest.raises(TransactionCancelled):
        transact_write(
            dynamodb,
            [
                {"Put": {"TableName": TABLE, "Item": other}},
                {"Put": {"TableName": TABLE, "Item": ITEM, "ConditionExpression": "attribute_not_exists(PK)"}},
            ],
        )

    # Then neither write happened
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=other)


def test_end_run_keeps_the_transcript_when_a_newer_turn_owns_the_thread(dynamodb):
    # Given a thread whose second turn started while the first one was still finishing
    sessions = SessionStore(TABLE, 1800, dynamodb)
    sessions.begin_turn("t-1", "demo-customer", "c-1", now=1000.0)
    sessions.finish_turn("t-1", 1, now=1001.0)
    sessions.begin_turn("t-1", "demo-customer", "c-1", now=1002.0)

    # When turn 1's run ends
    finished = sessions.end_run(
        "t-1", 1, [{"role": "assistant", "content": "late"}], {"turns": 1}, finished=True, now=1003.0
    )

    # Then the session stays with turn 2, and the transcript and counters of turn 1 are stored anyway
    session = sessions.get("t-1")
    assert finished is False
    assert session is not None and (session.turn, session.status) == (2, "running")
    stored = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues={":pk": {"S": "THREAD#t-1"}, ":sk": {"S": "TURN#000001#"}},
    )["Items"]
    assert [item["entries"]["L"][0]["M"]["content"]["S"] for item in stored] == ["late"]
    assert AnalyticsStore(TABLE, dynamodb).summary()["turns"] == 1

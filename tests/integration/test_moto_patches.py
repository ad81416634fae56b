"""local/moto_patches against AWS's documented behaviour; each test fails on moto 5.2.5 without its patch.

(local/moto_patches/task_tokens.py has its own: tests/integration/test_task_tokens.py.)
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from local.moto_patches import finished_executions

TABLE = "ConversationsTable"


def key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "X"}}


def slow_conditions(monkeypatch, seconds: float = 0.3) -> None:
    """Each condition moto evaluates takes `seconds` after it is checked: a window for another request to race in."""
    real = table_module.get_filter_expression

    def slow(*args: Any, **kwargs: Any) -> Any:
        condition: Any = real(*args, **kwargs)
        check = condition.expr

        def expr(item: Any) -> Any:
            outcome = check(item)
            time.sleep(seconds)
            return outcome

        condition.expr = expr
        return condition

    monkeypatch.setattr(table_module, "get_filter_expression", slow)


def at_once(*calls: Any) -> list[Any]:
    """Run the calls on threads together; each one's result or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the first is inside its request before the next starts
    for thread in threads:
        thread.join(10)
    return results


def code(result: Any) -> str | None:
    return result.response["Error"]["Code"] if isinstance(result, ClientError) else None


# ------------------------------------------------------------------ item_locks (strictness)


def test_two_conditional_writes_to_one_item_cannot_both_pass_their_check(dynamodb, monkeypatch):
    # AWS: a conditional write is atomic on its item; moto checks, then writes, with nothing held between
    slow_conditions(monkeypatch)

    def create(owner: str) -> Any:
        return lambda: dynamodb.put_item(
            TableName=TABLE,
            Item={**key("thread"), "owner": {"S": owner}},
            ConditionExpression="attribute_not_exists(PK)",
        )

    results = at_once(create("alice"), create("bob"))

    assert [code(r) for r in results] == [None, "ConditionalCheckFailedException"]
    assert dynamodb.get_item(TableName=TABLE, Key=key("thread"))["Item"]["owner"] == {"S": "alice"}


def test_a_write_to_an_item_a_transaction_holds_conflicts_and_other_items_do_not_wait(dynamodb, monkeypatch):
    # AWS (TransactWriteItems, "Transaction conflict handling"): a transaction holding an item cancels another one
    # with TransactionConflict on that item and fails a single write to it with TransactionConflictException
    slow_conditions(monkeypatch)
    held = {"Put": {"TableName": TABLE, "Item": {**key("held"), "n": {"N": "1"}}, "ConditionExpression": "1 = 1"}}
    results = at_once(
        lambda: dynamodb.transact_write_items(TransactItems=[held]),
        lambda: dynamodb.put_item(TableName=TABLE, Item={**key("held"), "n": {"N": "2"}}),
        lambda: dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": key("other")}},
                {"Delete": {"TableName": TABLE, "Key": key("held")}},
            ]
        ),
        lambda: dynamodb.put_item(TableName=TABLE, Item=key("free")),
    )

    assert [code(r) for r in results] == [None, "TransactionConflictException", "TransactionCanceledException", None]
    assert [r["Code"] for r in results[2].response["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert dynamodb.get_item(TableName=TABLE, Key=key("held"))["Item"]["n"] == {"N": "1"}
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("other"))


# ------------------------------------------------------------------ transaction_rollback (strictness, memory)


def test_a_cancelled_transaction_puts_back_its_own_items_and_keeps_a_concurrent_write_to_another(dynamodb, monkeypatch):
    # Given two items
    dynamodb.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
    dynamodb.put_item(TableName=TABLE, Item={**key("b"), "n": {"N": "1"}})
    # And another request writing item b while the transaction runs (item b is not the transaction's)
    real_put = DynamoDBBackend.put_item

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if item_attrs["PK"] == {"S": "new"}:
            writer = threading.Thread(
                target=lambda: dynamodb.put_item(TableName=TABLE, Item={**key("b"), "n": {"N": "2"}})
            )
            writer.start()
            writer.join(10)
        return real_put(self, table_name, item_attrs, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)
    # And no table may be copied whole (moto deep-copied each table a transaction names)
    monkeypatch.setattr(Table, "__deepcopy__", lambda *_: pytest.fail("a whole table was copied"), raising=False)

    # When the transaction's second write fails its condition
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("new"), "n": {"N": "1"}}}},
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

    # Then it is cancelled and changed nothing, and the other request's write stands (AWS: all or nothing, its own)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("new"))
    assert dynamodb.get_item(TableName=TABLE, Key=key("a"))["Item"]["n"] == {"N": "1"}
    assert dynamodb.get_item(TableName=TABLE, Key=key("b"))["Item"]["n"] == {"N": "2"}


def test_a_transaction_refused_as_a_whole_puts_back_what_it_wrote(dynamodb):
    # Two writes to one item: moto refuses the transaction after applying the first (AWS: ValidationException)
    dynamodb.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("a"), "n": {"N": "5"}}}},
                {"Delete": {"TableName": TABLE, "Key": key("a")}},
            ]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert dynamodb.get_item(TableName=TABLE, Key=key("a"))["Item"]["n"] == {"N": "1"}


# ------------------------------------------------------------------ untracked_instances (memory)


def test_moto_keeps_no_object_it_no_longer_serves(dynamodb):
    for i in range(5):
        dynamodb.put_item(TableName=TABLE, Item={**key(f"item-{i}"), "n": {"N": str(i)}})
        dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": key(f"tx-{i}")}}])
        dynamodb.delete_item(TableName=TABLE, Key=key(f"item-{i}"))

    # moto appended every item (each version, each copy) to Item.instances_tracked and never let one go
    assert getattr(Item, "instances_tracked") == [] and getattr(Table, "instances_tracked") == []  # noqa: B009


# ------------------------------------------------------------------ finished_executions (memory)


def run_to_end(sfn: Any, arn: str, name: str) -> None:
    execution = sfn.start_execution(stateMachineArn=arn, name=name)["executionArn"]
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_finished_executions_release_their_threads_and_only_the_newest_are_kept(aws, monkeypatch):
    from moto.stepfunctions.parser.utils import TMP_THREADS

    monkeypatch.setattr(finished_executions, "EVERY", 3)
    monkeypatch.setattr(finished_executions, "KEPT", 2)
    monkeypatch.setattr(finished_executions, "_started", [0])
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]

    # When six executions run one after another (pruned as the 3rd and the 6th start)
    for i in range(6):
        run_to_end(sfn, arn, f"e{i}")

    # Then the 6th start kept the newest two finished ones, and moto holds only the last one's finished threads
    names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"])
    assert names == ["e3", "e4", "e5"]
    assert sum(not thread.is_alive() for thread in TMP_THREADS) <= 3  # moto: three per execution, forever

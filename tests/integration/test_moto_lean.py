"""local/moto_lean.py: moto stops keeping every object it made, and a transaction copies only what it touches."""

from __future__ import annotations

import json
import time
from typing import Any

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


def test_a_query_on_the_table_key_reads_its_partition_only_and_answers_as_before(lean, monkeypatch):
    # Given a partition of five items beside other partitions
    for sk in ("TURN#3", "TURN#1", "TURN#5", "TURN#2", "TURN#4", "META"):
        lean.put_item(TableName=TABLE, Item={"PK": {"S": "THREAD#q"}, "SK": {"S": sk}})
    for i in range(30):
        lean.put_item(TableName=TABLE, Item={"PK": {"S": f"THREAD#other-{i}"}, "SK": {"S": "TURN#1"}})

    # When the whole table may no longer be listed (a Query on the key must not need it)
    def whole_table(self):
        raise AssertionError("a key query listed the whole table")

    monkeypatch.setattr(Table, "all_items", whole_table)
    values = {":pk": {"S": "THREAD#q"}, ":t": {"S": "TURN#"}}
    newest = lean.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :t)",
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
        Limit=2,
    )
    rest = lean.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :t)",
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
        ExclusiveStartKey=newest["LastEvaluatedKey"],
    )

    # Then the answers are DynamoDB's: range-key order, limits and pages, only that partition
    assert [i["SK"]["S"] for i in newest["Items"]] == ["TURN#5", "TURN#4"]
    assert [i["SK"]["S"] for i in rest["Items"]] == ["TURN#3", "TURN#2", "TURN#1"]
    assert "LastEvaluatedKey" not in rest


def test_an_index_query_still_finds_items_across_partitions(lean):
    # Given items of two partitions under one index key
    for pk in ("a", "b"):
        lean.put_item(
            TableName=TABLE,
            Item={**key(pk), "GSI1PK": {"S": "OWNER#x"}, "GSI1SK": {"S": f"2026-{pk}"}},
        )

    # When the index is queried
    found = lean.query(
        TableName=TABLE,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :o",
        ExpressionAttributeValues={":o": {"S": "OWNER#x"}},
    )

    # Then both are there, in the index's order
    assert [i["PK"]["S"] for i in found["Items"]] == ["a", "b"]


SESSION_START = (
    "SET #s = :running, turn = if_not_exists(turn, :zero) + :one, tags = list_append(if_not_exists(tags, :empty), :t),"
    " created_at = if_not_exists(created_at, :now) REMOVE pending ADD hits :one"
)


def test_a_kept_update_expression_is_applied_afresh_to_each_item(lean):
    # Given one expression used on a new item, then again on it, then on another item with different values
    def update(pk: str, tag: str, now: str) -> dict:
        return lean.update_item(
            TableName=TABLE,
            Key=key(pk),
            UpdateExpression=SESSION_START,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":running": {"S": "running"},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":empty": {"L": []},
                ":t": {"L": [{"S": tag}]},
                ":now": {"S": now},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]

    first = update("u1", "a", "t0")
    lean.update_item(
        TableName=TABLE,
        Key=key("u1"),
        UpdateExpression="SET pending = :p",
        ExpressionAttributeValues={":p": {"S": "x"}},
    )
    second = update("u1", "b", "t1")
    other = update("u2", "c", "t2")

    # Then each result is computed from that item and those values (nothing carried over from an earlier request)
    assert first["turn"] == {"N": "1"} and first["tags"] == {"L": [{"S": "a"}]} and first["created_at"] == {"S": "t0"}
    assert second["turn"] == {"N": "2"} and second["tags"] == {"L": [{"S": "a"}, {"S": "b"}]}
    assert second["created_at"] == {"S": "t0"} and "pending" not in second and second["hits"] == {"N": "2"}
    assert other["turn"] == {"N": "1"} and other["tags"] == {"L": [{"S": "c"}]} and other["status"] == {"S": "running"}


@pytest.mark.parametrize(
    ("expression", "names", "error"),
    [
        ("SET #a = :v, #b = :v", {"#a": "x", "#b": "x"}, "Two document paths overlap"),
        ("SET a = :v SET b = :v", {}, 'The "SET" section can only be used once'),
    ],
)
def test_an_expression_that_passed_the_shape_checks_with_some_names_is_checked_again_with_others(
    lean, expression, names, error
):
    # Given an expression that passed once with names that do not clash (or a valid sibling of it)
    valid_names = {"#a": "x", "#b": "y"} if names else {}
    valid = expression if names else "SET a = :v, b = :v"
    lean.update_item(
        TableName=TABLE,
        Key=key("c"),
        UpdateExpression=valid,
        ExpressionAttributeValues={":v": {"S": "1"}},
        **({"ExpressionAttributeNames": valid_names} if valid_names else {}),
    )

    # When it comes again with names that make two paths one (or with two SET clauses)
    with pytest.raises(ClientError) as refused:
        lean.update_item(
            TableName=TABLE,
            Key=key("c"),
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": {"S": "1"}},
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    # Then DynamoDB's validation error, every time
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert error in refused.value.response["Error"]["Message"]


def test_conditions_kept_as_tokens_still_see_each_requests_values(lean):
    # Given an item and a condition text used twice with different values
    lean.put_item(TableName=TABLE, Item={**key("k"), "turn": {"N": "3"}})

    def bump(expected: str) -> None:
        lean.update_item(
            TableName=TABLE,
            Key=key("k"),
            UpdateExpression="SET turn = turn + :one",
            ConditionExpression="turn = :turn",
            ExpressionAttributeValues={":one": {"N": "1"}, ":turn": {"N": expected}},
        )

    # When the first matches and the second does not
    bump("3")
    with pytest.raises(ClientError) as refused:
        bump("3")

    # Then the second is refused, as DynamoDB would
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert lean.get_item(TableName=TABLE, Key=key("k"))["Item"]["turn"] == {"N": "4"}


def test_responses_are_serialised_as_moto_serialises_them(lean, monkeypatch):
    # Given an item with every attribute type, nested
    item = {
        **key("all"),
        "s": {"S": "text"},
        "n": {"N": "12.5"},
        "b": {"B": b"\x00\x01bytes"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"x", b"y"]},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
        "nul": {"NULL": True},
        "flag": {"BOOL": True},
    }
    lean.put_item(TableName=TABLE, Item=item)
    bodies: list[bytes] = []
    lean.meta.events.register("after-call.dynamodb", lambda http_response, **_: bodies.append(http_response.content))

    def read() -> None:
        lean.get_item(TableName=TABLE, Key=key("all"))
        lean.query(TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "all"}})
        with pytest.raises(ClientError):
            lean.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": TABLE,
                            "Key": key("all"),
                            "ConditionExpression": "attribute_not_exists(PK)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    }
                ]
            )

    # When the same requests are answered by the kept plans, then by moto's own serialiser (another picker class)
    read()
    from moto.core import responses
    from moto.core.serialize import XFormedAttributePicker

    class MotosOwnPath(XFormedAttributePicker):
        pass

    monkeypatch.setattr(responses, "XFormedAttributePicker", MotosOwnPath)
    read()

    # Then the wire bytes are the same
    assert len(bodies) == 6
    assert bodies[:3] == bodies[3:]


def test_a_definition_is_turned_into_a_program_once_and_each_execution_keeps_its_own_data(aws, monkeypatch):
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    make_moto_lean()
    built: list = []
    visit = Preprocessor.visit

    def recording(self, tree):
        built.append(tree)
        return visit(self, tree)

    monkeypatch.setattr(Preprocessor, "visit", recording)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Parameters": {"size": "big", "n.$": "$.n"}, "End": True},
            "Small": {"Type": "Pass", "Parameters": {"size": "small", "n.$": "$.n"}, "End": True},
        },
    }
    arn = sfn.create_state_machine(
        name="shared", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]

    # When three executions run with their own inputs
    outputs, programs = [], []
    for n in (1, 5, 0):
        programs.append([type(tree).__name__ for tree in built].count("State_machineContext"))
        started = sfn.start_execution(stateMachineArn=arn, name=f"s{n}", input=json.dumps({"n": n}))
        deadline = time.monotonic() + 10
        while (done := sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        outputs.append(json.loads(done["output"]))

    # Then each took its own branch with its own data, and only the first built a program
    assert outputs == [{"size": "small", "n": 1}, {"size": "big", "n": 5}, {"size": "small", "n": 0}]
    programs.append([type(tree).__name__ for tree in built].count("State_machineContext"))
    assert programs[1] > programs[0] and programs[1] == programs[2] == programs[3]


def test_redundant_parentheses_are_refused_every_time_and_a_valid_text_passes_every_time(lean):
    # Given an item
    lean.put_item(TableName=TABLE, Item={**key("p"), "n": {"N": "1"}})

    def put(condition: str) -> None:
        lean.put_item(
            TableName=TABLE,
            Item={**key("p"), "n": {"N": "1"}},
            ConditionExpression=condition,
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    # When a valid condition is used twice, and one with redundant parentheses twice
    put("(n = :one) AND attribute_exists(PK)")
    put("(n = :one) AND attribute_exists(PK)")
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as refused:
            put("((n = :one)) AND attribute_exists(PK)")
        codes.append(refused.value.response["Error"]["Code"])

    # Then DynamoDB's validation error both times
    assert codes == ["ValidationException", "ValidationException"]


def test_a_projection_reads_each_item_once_and_answers_as_moto(lean, monkeypatch):
    # Given an item with nested maps, lists, binary, numbers and sets
    item = {
        **key("p"),
        "ref_key": {"S": "REF#1"},
        "ref_loc": {"S": "DYNAMODB"},
        "ckpt": {"B": b"\x00\x01checkpoint"},
        "n": {"N": "12.50"},
        "labels": {"SS": ["a", "b"]},
        "doc": {
            "M": {"a": {"M": {"b": {"N": "1"}, "c": {"S": "x"}}}, "l": {"L": [{"S": "l0"}, {"M": {"k": {"S": "v"}}}]}}
        },
    }
    lean.put_item(TableName=TABLE, Item=item)
    stored = lean.get_item(TableName=TABLE, Key=key("p"))["Item"]
    conversions = 0
    to_regular_json = Item.to_regular_json

    def counted(self):
        nonlocal conversions
        conversions += 1
        return to_regular_json(self)

    monkeypatch.setattr(Item, "to_regular_json", counted)
    moto_project = Item.project.__wrapped__  # type: ignore[attr-defined]
    projections = [
        "PK, SK, ref_key, ref_loc",  # disjoint: one conversion
        "doc.a.b, n, ckpt, labels, absent",
        "doc.l[1].k, PK",
        "doc.a.b, doc.a.c",  # the same attribute twice: moto's way
        "doc.l[0], doc.l[1]",
    ]
    lean_project = Item.project
    for projection in projections:
        paths = [part.strip() for part in projection.split(",")]
        disjoint = len({path.split(".")[0].split("[")[0] for path in paths}) == len(paths)
        answers = []
        for project in (lean_project, moto_project):
            # When the item is read through a projection, here and by moto's own Item.project
            monkeypatch.setattr(Item, "project", project)
            conversions = 0
            answers.append(lean.get_item(TableName=TABLE, Key=key("p"), ProjectionExpression=projection)["Item"])
            # Then each item is converted once when the paths start at different attributes (moto: once a path)
            assert conversions == (1 if disjoint and project is lean_project else len(paths)), projection
        # And the answers are the same
        assert answers[0] == answers[1], projection
        if projection == projections[0]:
            assert answers[0] == {name: stored[name] for name in ("PK", "SK", "ref_key", "ref_loc")}


def test_a_kept_route_answers_as_moto_routes_and_configuration_still_applies(lean, monkeypatch):
    from botocore.awsrequest import AWSPreparedRequest
    from moto.core import config
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.exceptions import ServiceNotWhitelisted

    lean_process: Any = BotocoreStubber.process_request
    moto_process: Any = lean_process.__wrapped__
    lean.put_item(TableName=TABLE, Item={**key("r"), "n": {"N": "3"}})
    dynamodb = "https://dynamodb.us-east-1.amazonaws.com/"
    requests = {
        dynamodb: ("DynamoDB_20120810.GetItem", {"TableName": TABLE, "Key": key("r")}),
        "https://states.us-east-1.amazonaws.com/": ("AWSStepFunctions.ListStateMachines", {}),
        "https://ssm.us-east-1.amazonaws.com/": ("AmazonSSM.GetParameter", {"Name": "/absent"}),
        "https://nothing.us-east-1.amazonaws.com/x": ("None.Nothing", {}),  # AWS's domain, no service: 404
        "http://127.0.0.1:9/x": ("None.Nothing", {}),  # not AWS: passed on
    }

    def request(url: str) -> AWSPreparedRequest:
        target, body = requests[url]
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
        return AWSPreparedRequest("POST", url, headers, json.dumps(body).encode(), stream_output=False)

    for url in requests:
        # When the same request is routed twice here (the second time by the kept route) and once by moto
        answers = [lean_process(None, request(url)), lean_process(None, request(url))]
        expected = moto_process(None, request(url))
        # Then all three agree: the same status and body (request ids and dates aside)
        for got in answers:
            assert (got is None) == (expected is None), url
            if expected is not None:
                assert (got[0], got[2]) == (expected[0], expected[2]), url
    assert json.loads(lean_process(None, request(dynamodb))[2])["Item"]["n"] == {"N": "3"}
    assert lean_process(None, request("https://nothing.us-east-1.amazonaws.com/x"))[0] == 404

    # And the allow list and passthrough are read on every request, after the route is kept
    core = config.default_user_config["core"]
    monkeypatch.setitem(core, "service_whitelist", ["s3"])
    with pytest.raises(ServiceNotWhitelisted):
        lean_process(None, request(dynamodb))
    monkeypatch.setitem(core, "service_whitelist", None)
    monkeypatch.setitem(core, "passthrough", {"urls": [], "services": ["dynamodb"]})
    assert lean_process(None, request(dynamodb)) is None
    monkeypatch.setitem(core, "passthrough", {"urls": [r"https://dynamodb\..*"], "services": []})
    assert lean_process(None, request(dynamodb)) is None


UPDATES = [  # (UpdateExpression, names, values): valid ones, and ones DynamoDB refuses
    ("SET #s = :s, turn = :n, updated_at = :t REMOVE pending", {"#s": "status"}, {":s": "running", ":n": 2, ":t": "x"}),
    ("SET created = if_not_exists(created, :t), hist = list_append(if_not_exists(hist, :e), :l)", {}, None),
    ("SET n = n + :one, m = :one - n", {}, {":one": 1}),
    ("SET doc.a = :s, tags[0] = :s", {}, {":s": "v"}),
    ("ADD tally :one, labels :set DELETE gone :set", {}, {":one": 1, ":set": {"a"}}),
    ("SET GSI1PK = :s, GSI1SK = :s", {}, {":s": "g"}),
    ("SET tot = missing + :one", {}, {":one": 1}),  # a path read that is not there
    ("SET PK = :s", {}, {":s": "k"}),  # a key attribute
    ("SET #k = :s", {"#k": "SK"}, {":s": "k"}),
    ("SET GSI1PK = :one", {}, {":one": 1}),  # an index key of the wrong type
    ("SET GSI1PK = :e", {}, {":e": ""}),  # an empty index key
    ("SET a = :absent, b = :s", {}, {":s": "x"}),  # a value not given
    ("SET n = n + :s", {}, {":s": "text"}),  # arithmetic on a string
    ("SET hist = list_append(:s, hist)", {}, {":s": "text"}),
    ("SET a = :s, a = :s", {}, {":s": "x"}),  # the same path twice
    ("SET copied = if_not_exists(#k, :s)", {"#k": "PK"}, {":s": "d"}),  # reads a key attribute: refused too
]
START = {
    "n": {"N": "5"},
    "hist": {"L": [{"S": "h"}]},
    "pending": {"S": "p"},
    "gone": {"SS": ["a", "b"]},
    "doc": {"M": {}},
}


def _values(values: dict | None) -> dict:
    from boto3.dynamodb.types import TypeSerializer

    if values is None:
        values = {":t": "now", ":e": [], ":l": ["x"]}
    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in values.items()}


def _outcome(lean, pk: str, expression: str, names: dict, values: dict, existing: bool) -> tuple:
    if existing:
        lean.put_item(TableName=TABLE, Item={**key(pk), **START, "tags": {"L": [{"S": "t"}]}})
    request = {"TableName": TABLE, "Key": key(pk), "UpdateExpression": expression, "ExpressionAttributeValues": values}
    if names:
        request["ExpressionAttributeNames"] = names
    try:
        lean.update_item(**request)
    except ClientError as error:
        return ("error", error.response["Error"]["Code"], error.response["Error"]["Message"])
    item = lean.get_item(TableName=TABLE, Key=key(pk)).get("Item", {})
    return ("ok", {name: value for name, value in item.items() if name not in ("PK",)})


def test_validator_passes_on_handled_nodes_only_answer_as_moto_every_time(lean, monkeypatch):
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    lean_validate, lean_init = validators.Validator.validate, validators.Validator.__init__
    moto_validate, moto_init = lean_validate._moto, lean_init._moto  # type: ignore[attr-defined]
    built = 0
    get_processors = validators.UpdateExpressionValidator.get_ast_processors

    def counted_build(self):
        nonlocal built
        built += 1
        return get_processors(self)

    monkeypatch.setattr(validators.UpdateExpressionValidator, "get_ast_processors", counted_build)
    traversals = 0
    traverse = DepthFirstTraverser.traverse

    def counted(self, node):
        nonlocal traversals
        traversals += 1
        return traverse(self, node)

    monkeypatch.setattr(DepthFirstTraverser, "traverse", counted)
    for index, (expression, names, raw_values) in enumerate(UPDATES):
        values = _values(raw_values)
        for existing in (False, True):
            for attempt in range(2):  # the second time, with the expression's shape checks passed and its plans kept
                # When the update is validated here, and by moto's own passes on a twin item
                traversals = built = 0
                here = _outcome(lean, f"lean-{index}-{existing}-{attempt}", expression, names, values, existing)
                walked, validations = traversals, built
                monkeypatch.setattr(validators.Validator, "validate", moto_validate)
                monkeypatch.setattr(validators.Validator, "__init__", moto_init)
                built = 0
                there = _outcome(lean, f"moto-{index}-{existing}-{attempt}", expression, names, values, existing)
                moto_validations = built
                monkeypatch.setattr(validators.Validator, "validate", lean_validate)
                monkeypatch.setattr(validators.Validator, "__init__", lean_init)
                # Then the item, or the error, is the same
                assert here == there, (expression, existing)
                if index == 0 and attempt == 1:
                    # And a plain update walks no tree: its passes visit the nodes they handle
                    assert walked == 0, walked
                if index == 0 and not existing:
                    # And a new item's update that reads nothing is validated once (moto: before and after creating it)
                    assert (validations, moto_validations) == (1, 2)
                if index == 1 and not existing:
                    # As is one that reads attributes other than the key (if_not_exists, list_append)
                    assert (validations, moto_validations) == (1, 2)
                if index == len(UPDATES) - 1:
                    # (the only reads that would differ between the two items, of key attributes, are refused first)
                    assert here[:2] == ("error", "ValidationException")
                    assert validations == moto_validations == 1
    refused = [_outcome(lean, f"r-{i}", *update[:2], _values(update[2]), True)[0] for i, update in enumerate(UPDATES)]
    assert refused.count("error") >= 8  # the refusals above are refused here too


def test_a_known_account_is_found_as_before_and_a_reset_still_forgets_it(aws):
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.models import dynamodb_backends

    make_moto_lean()
    account = "111111111111"
    # A new account's backend is created and its service registered (for moto's reset), as moto does
    first = dynamodb_backends[account]
    assert dict.__contains__(dynamodb_backends, account)
    assert any(known is dynamodb_backends for known in BackendDict._instances)  # type: ignore[misc]
    # A known one is found again, the same object
    assert dynamodb_backends[account] is first
    # And moto's reset still forgets it: the next lookup makes a new one and registers the service again
    BackendDict.reset()
    assert not dict.__contains__(dynamodb_backends, account)
    again = dynamodb_backends[account]
    assert again is not first
    assert any(known is dynamodb_backends for known in BackendDict._instances)  # type: ignore[misc]

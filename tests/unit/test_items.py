"""store/items.py writes what boto3's TypeSerializer writes and reads back what it wrote."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from smart_support.store.items import from_item, serialize, to_item, to_values

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    12345678901234567890,
    Decimal("19.99"),
    Decimal("1E+2"),
    Decimal("-0.000001"),
    "",
    "héllo",
    b"\x00\xff",
    bytearray(b"ab"),
    {"a", "b"},
    {1, Decimal("2.5")},
    {b"x", b"y"},
    [],
    [1, "two", None, [True], {"k": Decimal("3")}],
    (1, 2),
    {},
    {"order": {"id": "ord-1", "total": Decimal("42.50"), "items": [{"sku": "A", "qty": 2}]}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_serialize_matches_boto3(value: Any) -> None:
    ours: dict[str, Any] = dict(serialize(value))
    theirs = TypeSerializer().serialize(value)
    if any(kind in ours for kind in ("SS", "NS", "BS")):  # sets: the same members, in any order
        ((kind, members),) = ours.items()
        assert theirs.keys() == {kind}
        assert sorted(members) == sorted(theirs[kind])
    else:
        assert ours == theirs


@pytest.mark.parametrize(
    "value", [1.5, Decimal("NaN"), Decimal("Infinity"), Decimal("1E+200"), Decimal("1." + "1" * 40), object()]
)
def test_serialize_refuses_what_boto3_refuses(value: Any) -> None:
    with pytest.raises((TypeError, ArithmeticError)):  # boto3 raises TypeError or a decimal signal
        serialize(value)
    with pytest.raises((TypeError, ArithmeticError)):
        TypeSerializer().serialize(value)


def test_an_empty_set_is_refused_here_rather_than_by_dynamodb() -> None:
    assert TypeSerializer().serialize(set()) == {"NS": []}  # boto3 sends it; DynamoDB answers ValidationException
    with pytest.raises(TypeError):
        serialize(set())


def test_plain_dicts_round_trip_with_floats_and_whole_numbers() -> None:
    plain = {"pk": "THREAD#t1", "n": 3, "price": 19.99, "nested": {"xs": [1, 2.5, "x"], "flag": False}, "gone": None}
    item = to_item(plain)
    assert "gone" not in item
    assert item["price"] == {"N": "19.99"}
    assert from_item(item) == {k: v for k, v in plain.items() if v is not None}
    deserializer = TypeDeserializer()
    assert {k: deserializer.deserialize(v) for k, v in item.items()}["price"] == Decimal("19.99")
    assert to_values({":none": None, ":n": 1}) == {":none": {"NULL": True}, ":n": {"N": "1"}}
    assert from_item(None) is None

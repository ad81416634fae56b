"""Plain dicts <-> DynamoDB attribute values (floats as Decimal, whole numbers back as int).

Reading uses Powertools' TypeDeserializer; writing is `serialize` below, the rules of boto3's TypeSerializer
(tests/unit/test_items.py checks them against it). boto3's own classes live in a package whose import loads
s3transfer: ~20 ms of each light function's cold start, for these two dozen lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

if TYPE_CHECKING:  # the stubs are a development dependency: the functions ship without them
    from types_boto3_dynamodb.type_defs import AttributeValueTypeDef

    # An item, a key or a request's expression values, as DynamoDB takes and returns them ({"S": "..."}, {"N": ...}).
    Item: TypeAlias = dict[str, AttributeValueTypeDef]

_deserializer = TypeDeserializer()
# DynamoDB numbers: 38 digits, exponents -128..126; anything that would round is an error, not a silent change.
DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "-Infinity", "NaN", "sNaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def serialize(value: object) -> AttributeValueTypeDef:
    """One Python value -> its DynamoDB attribute value (as boto3's TypeSerializer; floats must be Decimal)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": _number(value)}
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Set) and value:
        if all(isinstance(v, str) for v in value):
            return {"SS": list(value)}
        if all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in value):
            return {"NS": [_number(v) for v in value]}
        if all(isinstance(v, bytes | bytearray) for v in value):
            return {"BS": [bytes(v) for v in value]}
    if isinstance(value, Mapping):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"Unsupported type {type(value)!r} for value {value!r}")


def to_item(values: Mapping[str, object]) -> Item:
    """Plain dict -> DynamoDB attribute values (None values dropped)."""
    return {k: serialize(_to_dynamo(v)) for k, v in values.items() if v is not None}


def to_values(values: Mapping[str, object]) -> Item:
    """Expression attribute values -> DynamoDB attribute values."""
    return {k: serialize(_to_dynamo(v)) for k, v in values.items()}


def from_item(item: Mapping[str, AttributeValueTypeDef] | None) -> dict[str, Any] | None:
    """DynamoDB attribute values -> plain dict (numbers as int or float)."""
    if item is None:
        return None
    return {k: _from_dynamo(_deserializer.deserialize(cast("dict[str, object]", v))) for k, v in item.items()}


def _to_dynamo(value: object) -> object:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):  # members of one kind; converting a number keeps its order
        return [_from_dynamo(v) for v in sorted(value)]
    return value

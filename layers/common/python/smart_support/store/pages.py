"""Pagination cursors: DynamoDB's LastEvaluatedKey as an opaque, URL-safe string, and back."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from smart_support.protocol.errors import ValidationFailed

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from smart_support.store.items import Item

MAX_CURSOR_CHARS = 1024


def encode_cursor(last_key: Mapping[str, AttributeValueTypeDef] | None) -> str | None:
    """The cursor of the next page (None at the end)."""
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Item | None:
    """ExclusiveStartKey from a cursor this API handed out; ValidationFailed for anything else."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise ValidationFailed("cursor: not a cursor from this API.")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("cursor: not a cursor from this API.") from exc
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValidationFailed("cursor: not a cursor from this API.")
    return value

"""The approval policy's pure parts: canonical calls, their hash, and operators' edits (issue 23, items 1 and 4)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from smart_support.protocol.errors import ValidationFailed
from smart_support.store import items
from smart_support.turns.policy import amount_problem, apply_edits, args_hash, canonical_args, describe, to_cents

REFUND = {"order_id": "1045", "amount_cents": 12900, "reason": "arrived  broken "}


def test_a_round_trip_through_dynamodb_or_json_never_changes_the_hash():
    # Given a refund's canonical call
    canonical = canonical_args(REFUND)
    # When it comes back from DynamoDB (numbers as Decimal -> int) and from Step Functions' JSON
    from_dynamodb = items.from_item(items.to_item({"args": canonical}))
    assert from_dynamodb is not None
    from_json = json.loads(json.dumps(canonical))
    # Then the hash is the same, and so is a float that equals the whole number (129.0 vs 129 was the bug)
    assert args_hash(from_dynamodb["args"]) == args_hash(from_json) == args_hash(canonical)
    assert args_hash({**canonical, "amount_cents": 12900.0}) == args_hash(canonical)
    assert args_hash({**canonical, "amount_cents": Decimal("12900")}) == args_hash(canonical)


def test_canonical_args_sort_keys_collapse_strings_and_are_idempotent():
    canonical = canonical_args({"reason": "  arrived \n broken ", "order_id": " 1045", "amount_cents": 12900})
    assert list(canonical) == ["amount_cents", "order_id", "reason"]
    assert canonical == {"amount_cents": 12900, "order_id": "1045", "reason": "arrived broken"}
    assert canonical_args(canonical) == canonical
    # a different amount is a different call
    assert args_hash({**canonical, "amount_cents": 12901}) != args_hash(canonical)


@pytest.mark.parametrize("bad", [129.5, "12900", True])
def test_a_money_field_that_is_not_whole_cents_is_refused(bad):
    with pytest.raises(ValueError):
        canonical_args({**REFUND, "amount_cents": bad})


@pytest.mark.parametrize(
    ("dollars", "cents"), [(129, 12900), (129.0, 12900), (64.5, 6450), (0.005, 1), (0.015, 2), (19.99, 1999)]
)
def test_dollars_round_half_up_to_cents(dollars, cents):
    assert to_cents(dollars) == cents


@pytest.mark.parametrize(
    "amount",
    [0.004, 0, -1, 0.0049, 129.01, 10**400, float("inf"), float("nan"), "50", None, True, [1]],
)
def test_an_edit_that_rounds_to_nothing_or_is_absurd_is_a_validation_error_never_a_crash(amount):
    # Given a $129.00 refund and an operator's edit
    # When the edit is applied
    with pytest.raises(ValidationFailed) as refused:
        apply_edits("request_refund", REFUND, {"amount": amount}, 129.0)
    # Then it is refused with a message naming the field (a 422, never a 500), and $0.004 never uses up the refund
    assert "args.amount" in refused.value.message


def test_an_edit_is_validated_after_rounding_to_cents():
    assert amount_problem(0.005, 129.0) is None  # rounds to $0.01
    assert amount_problem(129.004, 129.0) is None  # rounds to $129.00
    assert amount_problem(129.005, 129.0) is not None  # rounds to $129.01
    assert "at least $0.01" in (amount_problem(0.004, 129.0) or "")


def test_an_edit_gives_the_canonical_call_that_runs():
    runs = apply_edits("request_refund", REFUND, {"amount": 64.5}, 129.0)
    assert runs == {"amount_cents": 6450, "order_id": "1045", "reason": "arrived broken"}
    address = apply_edits(
        "update_shipping_address", {"order_id": "1043", "address": "1 A St"}, {"address": " 5  Main St "}, 59.9
    )
    assert address == {"address": "5 Main St", "order_id": "1043"}


def test_an_edit_of_another_argument_is_refused():
    with pytest.raises(ValidationFailed, match="order_id"):
        apply_edits("request_refund", REFUND, {"order_id": "1044"}, 129.0)


def test_descriptions_follow_the_call_that_runs():
    assert describe("request_refund", {"order_id": "1045", "amount_cents": 6450}, 129.0, 1) == (
        "Refund $64.50 of $129.00 for order 1045 (1 item)"
    )
    assert describe("request_refund", {"order_id": "1045", "amount_cents": 12900}, 129.0, 1) == (
        "Refund $129.00 for order 1045 (1 item)"
    )
    assert describe("cancel_order", {"order_id": "1043"}, 59.9, 1) == "Cancel order 1043 (1 item, $59.90)"

"""Approval rules in code: who may approve which write, the canonical form of a gated call's arguments, and which
arguments an operator may edit (docs/approvals.md)."""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from smart_support.protocol.errors import ValidationFailed
from smart_support.protocol.types import Approver

WRITE_ACTIONS = ("cancel_order", "request_refund", "update_shipping_address")
CUSTOMER_REFUND_LIMIT_CENTS = 5000
MAX_ADDRESS_CHARS = 300  # keeps an approval request (args + description) far below a 32 KB frame
MAX_REASON_CHARS = 300
MAX_AMOUNT_CENTS = 10**11  # $1bn: past any order; bounds the numbers a request can carry
# What an operator may change, by the name the edit uses (the console sends dollars as `amount`).
EDITABLE: dict[str, tuple[str, ...]] = {"request_refund": ("amount",), "update_shipping_address": ("address",)}
MONEY_FIELDS = ("amount_cents",)


def approver_for(action: str, amount_cents: int | None = None) -> Approver:
    """`operator` for refunds over $50, else `customer` (an operator may always decide)."""
    if action == "request_refund" and (amount_cents is None or amount_cents > CUSTOMER_REFUND_LIMIT_CENTS):
        return "operator"
    return "customer"


def may_decide(approver: Approver, role: str) -> bool:
    """Operators decide everything; customers only what the policy gives them."""
    return role == "operator" or approver == "customer"


def to_cents(amount: Any) -> int:
    """Dollars as integer cents, rounded half up; ValueError if not a finite, possible amount."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        raise ValueError("The amount must be a number.")
    if isinstance(amount, float) and not math.isfinite(amount):
        raise ValueError("The amount must be a finite number.")
    if isinstance(amount, int) and abs(amount) > MAX_AMOUNT_CENTS:  # a 401-digit integer never reaches Decimal math
        raise ValueError("That amount is not possible.")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError("The amount must be a number.") from None
    if not value.is_finite() or abs(value) > MAX_AMOUNT_CENTS:
        raise ValueError("That amount is not possible.")
    return int((value * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def dollars(cents: int) -> str:
    """12900 -> "$129.00"."""
    return f"${cents / 100:,.2f}"


def collapse(text: Any) -> str:
    """One line, single spaces, trimmed."""
    return " ".join(str(text).split())


def canonical_args(args: dict[str, Any]) -> dict[str, Any]:
    """The one form of a gated call's arguments that is hashed, stored, shown and executed.

    Keys sorted, strings trimmed with inner whitespace collapsed, money as integer cents (`amount_cents`). Applying
    it again changes nothing, and neither does a round trip through DynamoDB (129 vs 129.0) or JSON.
    """
    canonical: dict[str, Any] = {}
    for key in sorted(args):
        value = args[key]
        if value is None:
            continue
        if key in MONEY_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value != int(value):
                raise ValueError(f"{key} must be a whole number of cents")
            canonical[key] = int(value)
        elif isinstance(value, str):
            canonical[key] = collapse(value)
        elif isinstance(value, Decimal | float) and value == int(value):
            canonical[key] = int(value)
        else:
            canonical[key] = value
    return canonical


def args_hash(args: dict[str, Any]) -> str:
    """Stable hash of the canonical arguments shown to the approver: a decision is bound to it."""
    encoded = json.dumps(canonical_args(args), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def normalize_address(address: str) -> str:
    """One line, single spaces."""
    return collapse(address)


def address_problem(address: str) -> str | None:
    """Why a (normalized) address cannot be used, or None."""
    if not address:
        return "The address must not be blank."
    if len(address) > MAX_ADDRESS_CHARS:
        return f"That address is too long ({MAX_ADDRESS_CHARS} characters at most)."
    return None


def refund_cents_problem(cents: int, order_total_cents: int) -> str | None:
    """Why a refund of `cents` cannot be used, or None: at least $0.01 and at most the order total, after rounding."""
    if not 1 <= cents <= order_total_cents:
        return f"The amount must be at least $0.01 and at most the order total ({dollars(order_total_cents)})."
    return None


def amount_problem(amount: Any, order_total: float) -> str | None:
    """Why a refund amount in dollars cannot be used, or None (checked after rounding to cents)."""
    try:
        cents = to_cents(amount)
    except ValueError as exc:
        return str(exc)
    return refund_cents_problem(cents, to_cents(order_total))


def apply_edits(action: str, args: dict[str, Any], edits: dict[str, Any], order_total: float | None) -> dict[str, Any]:
    """The canonical call as it will run after an operator's edits, validated like the original (ValidationFailed).

    Edits name what an operator types: a refund's `amount` in dollars, a shipping `address`.
    """
    allowed = EDITABLE.get(action, ())
    unknown = sorted(set(edits) - set(allowed))
    if unknown:
        can = ", ".join(allowed) if allowed else "nothing"
        raise ValidationFailed(f"args: {', '.join(unknown)} cannot be edited on {action} (editable: {can}).")
    merged = canonical_args(args)
    if "address" in edits:
        if not isinstance(edits["address"], str):
            raise ValidationFailed("args.address: must be a string.")
        merged["address"] = normalize_address(edits["address"])
        if why := address_problem(merged["address"]):
            raise ValidationFailed(f"args.address: {why}")
    if "amount" in edits:
        if why := amount_problem(edits["amount"], order_total if order_total is not None else 0.0):
            raise ValidationFailed(f"args.amount: {why}")
        merged["amount_cents"] = to_cents(edits["amount"])
    return canonical_args(merged)


def describe(action: str, args: dict[str, Any], order_total: float | None = None, items: int | None = None) -> str:
    """The sentence an approver reads for these (canonical) arguments, e.g. "Cancel order 1043 (1 item, $59.90)"."""
    order_id = args.get("order_id", "")
    counted = f"{items} item{'' if items == 1 else 's'}" if items is not None else None
    total = to_cents(order_total) if order_total is not None else None
    if action == "cancel_order":
        detail = ", ".join(x for x in (counted, dollars(total) if total is not None else None) if x)
        return f"Cancel order {order_id}" + (f" ({detail})" if detail else "")
    if action == "request_refund":
        cents = int(args.get("amount_cents", total or 0))
        of = f" of {dollars(total)}" if total is not None and cents != total else ""
        return f"Refund {dollars(cents)}{of} for order {order_id}" + (f" ({counted})" if counted else "")
    if action == "update_shipping_address":
        return f"Change the shipping address of order {order_id} to {args.get('address', '')}"
    return f"{action} {json.dumps(args, sort_keys=True)}"

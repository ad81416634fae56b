"""Approval rules in code: who may approve which write, and which arguments an operator may edit (docs/approvals.md)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from smart_support.protocol.errors import ValidationFailed
from smart_support.protocol.types import Approver

WRITE_ACTIONS = ("cancel_order", "request_refund", "update_shipping_address")
CUSTOMER_REFUND_LIMIT = 50.0
MAX_ADDRESS_CHARS = 300  # keeps an approval request (args + description) far below a 32 KB frame
MAX_REASON_CHARS = 300
EDITABLE: dict[str, tuple[str, ...]] = {"request_refund": ("amount",), "update_shipping_address": ("address",)}


def approver_for(action: str, amount: float | None = None) -> Approver:
    """`operator` for refunds over $50, else `customer` (an operator may always decide)."""
    if action == "request_refund" and (amount is None or amount > CUSTOMER_REFUND_LIMIT):
        return "operator"
    return "customer"


def may_decide(approver: Approver, role: str) -> bool:
    """Operators decide everything; customers only what the policy gives them."""
    return role == "operator" or approver == "customer"


def args_hash(args: dict[str, Any]) -> str:
    """Stable hash of the exact arguments shown to the approver: a decision is bound to it."""
    return hashlib.sha256(json.dumps(args, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def normalize_address(address: str) -> str:
    """One line, single spaces."""
    return " ".join(str(address).split())


def address_problem(address: str) -> str | None:
    """Why a (normalized) address cannot be used, or None."""
    if not address:
        return "The address must not be blank."
    if len(address) > MAX_ADDRESS_CHARS:
        return f"That address is too long ({MAX_ADDRESS_CHARS} characters at most)."
    return None


def amount_problem(amount: Any, order_total: float) -> str | None:
    """Why a refund amount cannot be used, or None: more than 0 and at most the order total."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return "The amount must be a number."
    if not 0 < float(amount) <= order_total + 1e-9:
        return f"The amount must be more than $0 and at most the order total (${order_total:.2f})."
    return None


def apply_edits(action: str, args: dict[str, Any], edits: dict[str, Any], order_total: float | None) -> dict[str, Any]:
    """The call as it will run after an operator's edits, validated like the original (ValidationFailed if not)."""
    allowed = EDITABLE.get(action, ())
    unknown = sorted(set(edits) - set(allowed))
    if unknown:
        can = ", ".join(allowed) if allowed else "nothing"
        raise ValidationFailed(f"args: {', '.join(unknown)} cannot be edited on {action} (editable: {can}).")
    merged = {**args, **edits}
    if "address" in edits:
        if not isinstance(edits["address"], str):
            raise ValidationFailed("args.address: must be a string.")
        merged["address"] = normalize_address(edits["address"])
        if why := address_problem(merged["address"]):
            raise ValidationFailed(f"args.address: {why}")
    if "amount" in edits:
        if why := amount_problem(edits["amount"], order_total if order_total is not None else 0.0):
            raise ValidationFailed(f"args.amount: {why}")
        merged["amount"] = round(float(edits["amount"]), 2)
    return merged

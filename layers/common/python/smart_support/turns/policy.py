"""Who may approve which write: the per-tool approver policy (docs/approvals.md)."""

from __future__ import annotations

from smart_support.protocol.types import Approver

WRITE_ACTIONS = ("cancel_order", "request_refund", "update_shipping_address")
CUSTOMER_REFUND_LIMIT = 50.0


def approver_for(action: str, amount: float | None = None) -> Approver:
    """`operator` for refunds over $50, else `customer` (an operator may always decide)."""
    if action == "request_refund" and (amount is None or amount > CUSTOMER_REFUND_LIMIT):
        return "operator"
    return "customer"


def may_decide(approver: Approver, role: str) -> bool:
    """Operators decide everything; customers only what the policy gives them."""
    return role == "operator" or approver == "customer"

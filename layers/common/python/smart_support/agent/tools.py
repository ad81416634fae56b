"""The agents' tools: order look-ups, approval-gated order writes, the knowledge base and hand-off to a human.

Ownership is enforced here, in code: the customer id comes from the graph state (injected), never from the model,
and another customer's order is reported exactly like a missing one.
"""

# No `from __future__ import annotations`: langchain reads the tool signatures at runtime.

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.prebuilt import InjectedState
from langgraph.types import interrupt

from smart_support.agent import prompts
from smart_support.knowledge.source import HelpCenter, shipped_help_center
from smart_support.protocol.errors import SupportError
from smart_support.store.orders import (
    Order,
    OrderAction,
    OrderNotFound,
    OrderRuleViolation,
    OrderSystemUnavailable,
)
from smart_support.store.ports import OrderRepository, TicketRepository
from smart_support.turns.policy import (
    MAX_REASON_CHARS,
    address_problem,
    amount_problem,
    apply_edits,
    approver_for,
    args_hash,
    canonical_args,
    describe,
    normalize_address,
    to_cents,
)

logger = logging.getLogger(__name__)

CustomerId = Annotated[str, InjectedState("customer_id")]
ThreadId = Annotated[str, InjectedState("thread_id")]
State = Annotated[dict[str, Any], InjectedState]
ToolCallId = Annotated[str, InjectedToolCallId]
OrderNumber = Annotated[str, "The order number, e.g. 1042"]

READ_TOOLS = ("get_order_status", "track_shipment")
WRITE_TOOLS = ("cancel_order", "request_refund", "update_shipping_address")


def action_id_for(thread_id: str, tool_call_id: str, state: dict[str, Any] | None = None) -> str:
    """The interrupt id (and idempotency key) of one approval request: stable across re-runs of the node that
    performs it, unique for the life of the thread.

    The model chooses the tool-call id, so it may repeat one; the id also holds what the model does not control:
    the turn, the id LangGraph gave the model's message when it was stored, and the call's position in it.
    """
    turn, message_id, position = "", "", ""
    if state is not None:
        turn = str(state.get("turn", ""))
        for message in reversed(state.get("messages", [])):
            calls = getattr(message, "tool_calls", None) or []
            ids = [call.get("id") for call in calls]
            if tool_call_id in ids:
                message_id, position = str(message.id or ""), str(ids.index(tool_call_id))
                break
    seed = f"{thread_id}:{turn}:{message_id}:{position}:{tool_call_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def dumps(payload: dict[str, Any]) -> str:
    """A tool result as compact JSON (None fields dropped)."""
    return json.dumps({k: v for k, v in payload.items() if v is not None}, ensure_ascii=False)


def normalize_order_id(order_id: str) -> str:
    """ "#1042 " -> "1042"."""
    return str(order_id).strip().lstrip("#").strip()


def not_found(order_id: str) -> str:
    """The one answer for an order that is missing or belongs to someone else."""
    return dumps(
        {
            "error": "not_found",
            "order_id": order_id,
            "message": f"No order {order_id} was found on this customer's account.",
        }
    )


def unavailable(order_id: str, exc: OrderSystemUnavailable, interrupt_id: str | None = None) -> str:
    """The one answer when the order system cannot be reached: nothing was changed, try again or ask for a person."""
    return dumps(
        {
            "error": exc.code,
            "interrupt_id": interrupt_id,
            "order_id": order_id,
            "message": exc.message,
        }
    )


def describe_action(action: str, order: Order, args: dict[str, Any]) -> str:
    """The human sentence an approver reads, e.g. "Cancel order 1043 (1 item, $59.90)"."""
    return describe(action, args, order.total, order.item_count)


def bound_decision(decision: Any, approval_id: str, hashed: str) -> dict[str, Any] | None:
    """The resume value if it answers exactly this approval (its id and its arguments' hash), else None."""
    if not isinstance(decision, dict):
        return None
    if decision.get("interrupt_id") != approval_id or decision.get("args_hash") != hashed:
        return None
    return decision


def order_view(order: Order) -> dict[str, Any]:
    """What the model may see of the customer's own order."""
    return {
        "order_id": order.order_id,
        "status": order.status,
        "items": [{"name": i.name, "quantity": i.quantity, "unit_price": i.unit_price} for i in order.items],
        "total": order.total,
        "currency": order.currency,
        "placed_at": order.placed_at,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "eta": order.eta if order.status == "shipped" else None,
        "delivered_at": order.delivered_at,
        "shipping_address": order.shipping_address,
        "refund_status": order.refund_status,
        "cancelled_at": order.cancelled_at,
    }


def build_toolsets(
    orders: OrderRepository, tickets: TicketRepository, help_center: HelpCenter | None = None
) -> dict[str, list[BaseTool]]:
    """The tools of each specialist, bound to the data stores and the help center (default: the shipped index)."""
    help_center = help_center or shipped_help_center()

    @tool
    def get_order_status(order_id: OrderNumber, customer_id: CustomerId) -> str:
        """Look up the status, items, total and delivery details of one of the customer's orders."""
        order_id = normalize_order_id(order_id)
        try:
            order = orders.get_for_customer(order_id, customer_id)
        except OrderSystemUnavailable as exc:
            return unavailable(order_id, exc)
        return dumps(order_view(order)) if order else not_found(order_id)

    @tool
    def track_shipment(order_id: OrderNumber, customer_id: CustomerId) -> str:
        """Get the carrier, tracking number and expected delivery date (or delivery date) of an order."""
        order_id = normalize_order_id(order_id)
        try:
            order = orders.get_for_customer(order_id, customer_id)
        except OrderSystemUnavailable as exc:
            return unavailable(order_id, exc)
        if order is None:
            return not_found(order_id)
        return dumps(
            {
                "order_id": order.order_id,
                "status": order.status,
                "carrier": order.carrier,
                "tracking_number": order.tracking_number,
                "eta": order.eta if order.status == "shipped" else None,
                "delivered_at": order.delivered_at,
            }
        )

    @tool
    def cancel_order(
        order_id: OrderNumber,
        customer_id: CustomerId,
        thread_id: ThreadId,
        tool_call_id: ToolCallId,
        state: State,
    ) -> str:
        """Cancel an order that is still processing (the customer or an operator approves it first)."""
        order_id = normalize_order_id(order_id)
        return gated_write(
            orders,
            "cancel_order",
            {"order_id": order_id},
            customer_id,
            action_id_for(thread_id, tool_call_id, state),
            lambda action_id, _run: orders.cancel(order_id, customer_id, action_id),
            state,
        )

    @tool
    def request_refund(
        order_id: OrderNumber,
        customer_id: CustomerId,
        thread_id: ThreadId,
        tool_call_id: ToolCallId,
        state: State,
        reason: Annotated[str, "Why the customer wants the refund, in their words"] = "",
        amount: Annotated[float | None, "The amount to refund; leave empty for the whole order"] = None,
    ) -> str:
        """Request a refund of a delivered order (approved by the customer up to $50, above that by an operator)."""
        order_id = normalize_order_id(order_id)
        try:
            order = orders.get_for_customer(order_id, customer_id)
        except OrderSystemUnavailable as exc:
            return unavailable(order_id, exc)
        if order is None:
            return not_found(order_id)
        refund = order.total if amount is None else amount
        if why := amount_problem(refund, order.total):
            return dumps({"error": "invalid_amount", "order_id": order_id, "message": why})
        stated = " ".join(str(reason).split())[:MAX_REASON_CHARS]
        args = {"order_id": order_id, "amount_cents": to_cents(refund), "reason": stated}
        return gated_write(
            orders,
            "request_refund",
            args,
            customer_id,
            action_id_for(thread_id, tool_call_id, state),
            lambda action_id, run: orders.request_refund(
                order_id, customer_id, action_id, amount=run["amount_cents"] / 100
            ),
            state,
        )

    @tool
    def update_shipping_address(
        order_id: OrderNumber,
        address: Annotated[str, "The complete new address on one line"],
        customer_id: CustomerId,
        thread_id: ThreadId,
        tool_call_id: ToolCallId,
        state: State,
    ) -> str:
        """Change the shipping address of an order that is still processing (approved before it happens)."""
        order_id = normalize_order_id(order_id)
        address = normalize_address(address)
        if why := address_problem(address):
            return dumps({"error": "invalid_address", "order_id": order_id, "message": why})
        return gated_write(
            orders,
            "update_shipping_address",
            {"order_id": order_id, "address": address},
            customer_id,
            action_id_for(thread_id, tool_call_id, state),
            lambda action_id, run: orders.update_shipping_address(order_id, customer_id, run["address"], action_id),
            state,
        )

    @tool
    def search_faq(query: Annotated[str, "What the customer wants to know, in a few words"]) -> str:
        """Search the shop's help center (returns, refunds, shipping, payment, warranty, order changes, gift cards,
        sizes, account, privacy): the passages that answer, each with its article's title and URL."""
        hits = help_center.search(query[:500])
        if not hits:  # nothing covers it: the answer is "I don't know", never a guess
            return dumps({"query": query, "articles": [], "answer": prompts.DONT_KNOW})
        return dumps({"query": query, "articles": [{"title": h.title, "url": h.url, "passage": h.text} for h in hits]})

    @tool
    def escalate_to_human(
        summary: Annotated[str, "A short summary of the customer's problem"],
        customer_id: CustomerId,
        thread_id: ThreadId,
        tool_call_id: ToolCallId,
    ) -> str:
        """Hand the conversation to a human support agent by opening a ticket operators see."""
        ticket = tickets.create(
            thread_id=thread_id, customer_id=customer_id, summary=summary[:500], idempotency_key=tool_call_id
        )
        joined = ticket.thread_id != thread_id  # the customer's open tickets are at their cap: joined the newest
        message = (
            "A person already has your request (it joined your open ticket); they will follow up."
            if joined
            else "A support agent will follow up in this conversation."
        )
        return dumps({"ticket_id": ticket.ticket_id, "status": ticket.status, "joined": joined, "message": message})

    return {
        "order_status": [get_order_status, track_shipment],
        "order_actions": [cancel_order, request_refund, update_shipping_address],
        "knowledge": [search_faq],
        "escalation": [escalate_to_human],
    }


def gated_write(
    orders: OrderRepository,
    action: OrderAction,
    requested: dict[str, Any],
    customer_id: str,
    action_id: str,
    write: Callable[[str, dict[str, Any]], Order],
    state: dict[str, Any] | None = None,
) -> str:
    """Check (read only) -> ask for approval -> the idempotent write of exactly the approved (canonical) call."""
    args = canonical_args(requested)
    order_id = args["order_id"]
    if state is not None and (unasked := not_from_the_customer(action, args, state)):
        return unasked
    try:
        order = orders.get_for_customer(order_id, customer_id)
    except OrderSystemUnavailable as exc:  # before any approval is asked (or, re-run on resume, before the write)
        return unavailable(order_id, exc, action_id)
    if order is None:
        return not_found(order_id)
    already_applied = action_id in order.action_ids  # a re-run after the write: skip the rule check
    if not already_applied and (why := order.rule_violation(action)):
        return dumps(
            {"error": "not_allowed", "action": action, "order_id": order_id, "status": order.status, "message": why}
        )
    amount_cents = args.get("amount_cents", to_cents(order.total)) if action != "update_shipping_address" else None
    hashed = args_hash(args)
    request = {
        "interrupt_id": action_id,  # the approval is bound to this very tool call
        "args_hash": hashed,
        "action": action,
        "args": args,
        "description": describe_action(action, order, args),
        "approver": approver_for(action, amount_cents),
        "amount": amount_cents / 100 if amount_cents is not None else None,
        "order_total": order.total,
        "items": order.item_count,
        "reason": args.get("reason"),
    }
    while (decision := bound_decision(interrupt(request), action_id, hashed)) is None:
        # A resume value meant for another approval (a retried or replayed task) decides nothing here.
        logger.warning("A decision for another approval reached %s; asking again.", action_id)
    decided_by, comment = decision.get("decided_by"), decision.get("comment") or None
    if decision.get("approved") is not True:
        reason = "timeout" if decided_by == "timeout" else "declined"
        if decision.get("outcome") == "withdrawn":
            reason = "withdrawn"
        return dumps(
            {
                "result": "not_changed",
                "interrupt_id": action_id,
                "action": action,
                "order_id": order_id,
                "reason": reason,
                "decided_by": decided_by,
                "comment": comment,
                "message": NOT_CHANGED.get(reason, NOT_CHANGED["declined"]),
            }
        )
    run = args
    if edits := decision.get("edited_args"):
        try:
            run = apply_edits(action, args, edits, order.total)
        except SupportError as exc:  # the server validated them already; never run a call nobody approved
            return dumps(
                {
                    "error": "invalid_edit",
                    "interrupt_id": action_id,
                    "action": action,
                    "order_id": order_id,
                    "message": exc.message,
                }
            )
    try:
        updated = write(action_id, run)
    except OrderNotFound:
        return dumps({**json.loads(not_found(order_id)), "interrupt_id": action_id})
    except OrderSystemUnavailable as exc:  # after its retries with the same Idempotency-Key: the audit says not ran
        return unavailable(order_id, exc, action_id)
    except OrderRuleViolation as exc:  # the order changed between the approval and the write
        return dumps(
            {
                "error": "not_allowed",
                "interrupt_id": action_id,
                "action": action,
                "order_id": order_id,
                "status": exc.status,
                "message": exc.reason,
            }
        )
    return dumps(
        {
            "result": RESULTS[action],
            "interrupt_id": action_id,
            "action": action,
            "order_id": order_id,
            "decided_by": decided_by,
            "edited": bool(edits) or None,
            "comment": comment,
            **_changed_fields(action, updated),
        }
    )


def not_from_the_customer(action: str, args: dict[str, Any], state: dict[str, Any]) -> str | None:
    """A tool result that stops a write the customer did not ask for in these terms (None if they did).

    A model can invent an order number or an address, or ask again for what was just declined; content (messages,
    articles, addresses) never grants a write, only the customer's own words do.
    """
    messages = state.get("messages", [])
    said: list[str] = [str(m.text) for m in messages if isinstance(m, HumanMessage) and m.name != "operator"]
    said += [str(m.text) for m in messages if isinstance(m, AIMessage) and m.name == "operator"]  # an operator's
    said.append(str(state.get("summary", "")))
    order_id = args["order_id"]
    if not any(re.search(rf"(?<!\d){re.escape(order_id)}(?!\d)", text) for text in said):
        return dumps(
            {
                "error": "ask_order_number",
                "order_id": order_id,
                "message": f"The customer never mentioned order {order_id}: ask them which order they mean.",
            }
        )
    if "address" in args:
        address = args["address"]
        if not plausible_address(address) or not any(_loose(address) in _loose(text) for text in said):
            return dumps(
                {
                    "error": "ask_address",
                    "order_id": order_id,
                    "message": "Ask the customer for the complete new address (street and number, city, postal "
                    "code) in their own words; never make one up.",
                }
            )
    for earlier in current_turn_results(messages, action):
        if earlier.get("order_id") == order_id and earlier.get("result") == "not_changed":
            return dumps(
                {
                    "error": "already_declined",
                    "action": action,
                    "order_id": order_id,
                    "message": "This request was just declined, withdrawn or timed out: do not ask again in this "
                    "message; tell the customer nothing was changed.",
                }
            )
    return None


def plausible_address(address: str) -> bool:
    """A postal address, roughly: a house number and at least two words of letters."""
    words = re.findall(r"[^\W\d_]{2,}", address)
    return bool(re.search(r"\d", address)) and len(words) >= 2 and len(address) >= 8


def current_turn_results(messages: list[Any], tool_name: str) -> list[dict[str, Any]]:
    """The parsed results of `tool_name` since the customer's latest message."""
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and message.name != "operator":
            break
        if isinstance(message, ToolMessage) and message.name == tool_name:
            try:
                payload = json.loads(message.text)
            except ValueError:
                continue
            if isinstance(payload, dict):
                results.append(payload)
    return results


def _loose(text: str) -> str:
    """Lower case, letters and digits only, single spaces: how an address is compared with what the customer wrote."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


NOT_CHANGED = {
    "declined": "The request was declined; nothing was changed.",
    "withdrawn": "The customer withdrew the request; nothing was changed.",
    "timeout": "The approval timed out; nothing was changed.",
}
RESULTS = {
    "cancel_order": "cancelled",
    "request_refund": "refund_requested",
    "update_shipping_address": "address_updated",
}


def _changed_fields(action: str, order: Order) -> dict[str, Any]:
    if action == "cancel_order":
        return {"status": order.status}
    if action == "request_refund":
        amount = order.refund_amount if order.refund_amount is not None else order.total
        return {"status": order.status, "refund_status": order.refund_status, "amount": amount}
    return {"status": order.status, "shipping_address": order.shipping_address}

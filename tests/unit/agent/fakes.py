"""In-memory stand-ins for the order and ticket stores (unit tests never touch AWS), shaped like their ports."""

from __future__ import annotations

from smart_support.clock import iso
from smart_support.store.demo_data import DEMO_ORDERS
from smart_support.store.orders import Order, OrderNotFound, OrderRuleViolation
from smart_support.store.tickets import Ticket, TicketKind, TicketStatus, ticket_id_for

CREATED_AT = 1795478400.0  # 2026-11-24T00:00:00Z


class FakeOrders:
    """The demo orders in a dict, with the same ownership and rules as OrderStore."""

    def __init__(self) -> None:
        self.orders = {order.order_id: order.model_copy(deep=True) for order in DEMO_ORDERS}
        self.writes: list[tuple[str, str, str, str]] = []

    def get_for_customer(self, order_id: str, customer_id: str) -> Order | None:
        order = self.orders.get(order_id)
        return order.model_copy(deep=True) if order and order.customer_id == customer_id else None

    def cancel(self, order_id: str, customer_id: str, action_id: str, now: float | None = None) -> Order:
        return self._apply("cancel_order", order_id, customer_id, action_id, status="cancelled")

    def request_refund(
        self, order_id: str, customer_id: str, action_id: str, amount: float | None = None, now: float | None = None
    ) -> Order:
        changes = {"refund_status": "requested", "refund_amount": amount}
        return self._apply("request_refund", order_id, customer_id, action_id, **changes)

    def update_shipping_address(
        self, order_id: str, customer_id: str, address: str, action_id: str, now: float | None = None
    ) -> Order:
        return self._apply("update_shipping_address", order_id, customer_id, action_id, shipping_address=address)

    def _apply(self, action: str, order_id: str, customer_id: str, action_id: str, **changes: object) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.customer_id != customer_id:
            raise OrderNotFound()
        if action_id in order.action_ids:
            return order
        if why := order.rule_violation(action):
            raise OrderRuleViolation(order_id, action, order.status, why)
        self.writes.append((action, order_id, customer_id, action_id))
        updated = order.model_copy(
            update={**changes, "action_ids": [*order.action_ids, action_id], "version": order.version + 1}
        )
        self.orders[order_id] = updated
        return updated


class FakeTickets:
    """Tickets in a list."""

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []

    def create(
        self,
        thread_id: str,
        customer_id: str,
        summary: str,
        idempotency_key: str | None = None,
        now: float | None = None,
        kind: TicketKind = "escalation",
    ) -> Ticket:
        ticket_id = ticket_id_for(thread_id, idempotency_key or str(len(self.tickets)))
        existing = self.get(ticket_id)
        if existing is not None:
            return existing
        ticket = Ticket(
            ticket_id=ticket_id,
            thread_id=thread_id,
            customer_id=customer_id,
            summary=summary,
            kind=kind,
            created_at=iso(CREATED_AT if now is None else now),
        )
        self.tickets.append(ticket)
        return ticket

    def get(self, ticket_id: str) -> Ticket | None:
        return next((ticket for ticket in self.tickets if ticket.ticket_id == ticket_id), None)

    def save(self, ticket: Ticket, expected_version: int) -> Ticket:
        saved = ticket.model_copy(update={"version": expected_version + 1})
        self.tickets = [saved if t.ticket_id == ticket.ticket_id else t for t in self.tickets]
        return saved

    def list_page(
        self,
        status: TicketStatus = "open",
        limit: int = 20,
        cursor: str | None = None,
        created_before: str | None = None,
    ) -> tuple[list[Ticket], str | None]:
        found = [
            t for t in self.tickets if t.status == status and (created_before is None or t.created_at < created_before)
        ]
        return found[:limit], None

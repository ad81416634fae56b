"""The graph `make bench-peer` hands the LangGraph Agent Server (`langgraph dev`): the agent's own graph.

The same `build_graph`, on the same offline model built from the same settings (OFFLINE_TOKEN_DELAY_MS,
OFFLINE_FIRST_TOKEN_MS, as the stack's agent reads them), compiled without a checkpointer (the server
brings its own). The stack reads orders from its DynamoDB table; here the same demo orders are served from memory
(the server's users bring their own database), and escalation tickets are kept in memory.
"""

from __future__ import annotations

import time

from smart_support.agent.graph import build_graph, context_window
from smart_support.agent.models import build_model
from smart_support.clock import iso
from smart_support.settings import AgentModelSettings, ContextSettings
from smart_support.store.demo_data import DEMO_ORDERS
from smart_support.store.orders import Order, OrderNotFound
from smart_support.store.tickets import Ticket, TicketKind, TicketStatus, ticket_id_for


class DemoOrders:
    """The demo orders, read-only (the plain questions the bench asks only read them)."""

    def __init__(self) -> None:
        self.orders = {order.order_id: order for order in DEMO_ORDERS}

    def get_for_customer(self, order_id: str, customer_id: str) -> Order | None:
        """The order if `customer_id` owns it."""
        order = self.orders.get(order_id)
        return order if order is not None and order.customer_id == customer_id else None

    def cancel(self, order_id: str, customer_id: str, action_id: str, now: float | None = None) -> Order:
        """Not served here."""
        raise OrderNotFound()

    def request_refund(
        self, order_id: str, customer_id: str, action_id: str, amount: float | None = None, now: float | None = None
    ) -> Order:
        """Not served here."""
        raise OrderNotFound()

    def update_shipping_address(
        self, order_id: str, customer_id: str, address: str, action_id: str, now: float | None = None
    ) -> Order:
        """Not served here."""
        raise OrderNotFound()


class MemoryTickets:
    """Escalation tickets in a dict."""

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}

    def create(
        self,
        thread_id: str,
        customer_id: str,
        summary: str,
        idempotency_key: str | None = None,
        now: float | None = None,
        kind: TicketKind = "escalation",
    ) -> Ticket:
        """Open a ticket (the same key gives back the first one)."""
        ticket_id = ticket_id_for(thread_id, idempotency_key or summary)
        return self.tickets.setdefault(
            ticket_id,
            Ticket(
                ticket_id=ticket_id,
                thread_id=thread_id,
                customer_id=customer_id,
                summary=summary,
                kind=kind,
                created_at=iso(now or time.time()),
            ),
        )

    def get(self, ticket_id: str) -> Ticket | None:
        """One ticket."""
        return self.tickets.get(ticket_id)

    def save(self, ticket: Ticket, expected_version: int) -> Ticket:
        """Replace a ticket (no concurrent writers here)."""
        self.tickets[ticket.ticket_id] = ticket.model_copy(update={"version": expected_version + 1})
        return self.tickets[ticket.ticket_id]

    def list_page(
        self,
        status: TicketStatus = "open",
        limit: int = 20,
        cursor: str | None = None,
        created_before: str | None = None,
    ) -> tuple[list[Ticket], str | None]:
        """The tickets with `status`, one page."""
        found = [t for t in self.tickets.values() if t.status == status]
        return [t for t in found if created_before is None or t.created_at < created_before][:limit], None


graph = build_graph(
    # the rest of the model's and the context's settings from the environment, as the stack's agent reads them
    model=build_model(AgentModelSettings(model_provider="offline")),
    orders=DemoOrders(),
    tickets=MemoryTickets(),
    checkpointer=None,
    context=context_window(ContextSettings()),  # from the environment
)

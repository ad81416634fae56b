"""OrderStore and TicketStore on moto tables created from template.yaml."""

from __future__ import annotations

import pytest

from smart_support.store.demo_data import DEMO_ORDERS, seed_orders
from smart_support.store.orders import OrderNotFound, OrderRuleViolation
from smart_support.store.tickets import TicketStore


@pytest.fixture
def tickets(dynamodb) -> TicketStore:
    return TicketStore("ConversationsTable", dynamodb=dynamodb)


def test_seeded_demo_orders_match_the_design(orders):
    # Given the seeded demo data
    # When the orders are read back
    order = orders.get_for_customer("1042", "demo-customer")

    # Then 1042 is the shipped UPS order of DESIGN.md and each customer sees only their own
    assert order is not None
    assert (order.status, order.carrier, order.tracking_number, order.eta) == (
        "shipped",
        "UPS",
        "1Z999AA10123456784",
        "2026-11-28",
    )
    assert (order.item_count, order.total) == (2, 89.97)
    assert [o.order_id for o in orders.list_for_customer("demo-customer")] == ["1042", "1043", "1044", "1045"]
    assert [o.order_id for o in orders.list_for_customer("c-2001")] == ["2001"]


def test_seed_through_a_client_and_table_name(dynamodb):
    # Given an empty table
    # When it is seeded through the raw client
    seeded = seed_orders(dynamodb, "OrdersTable")

    # Then every demo order is there
    assert len(seeded) == len(DEMO_ORDERS) == dynamodb.scan(TableName="OrdersTable")["Count"]


def test_another_customers_order_is_invisible(orders):
    # Given 1042 belongs to demo-customer
    # When c-2001 reads it, or a missing order is read
    # Then both are simply absent
    assert orders.get_for_customer("1042", "c-2001") is None
    assert orders.get_for_customer("9999", "demo-customer") is None


def test_cancel_is_conditional_and_idempotent(orders):
    # Given processing order 1043
    # When it is cancelled twice with the same action id
    first = orders.cancel("1043", "demo-customer", "action-1")
    again = orders.cancel("1043", "demo-customer", "action-1")

    # Then it was written once
    assert first.status == again.status == "cancelled"
    assert first.version == again.version == 1
    assert again.last_action_id == "action-1"

    # And a different action on the cancelled order breaks the rule
    with pytest.raises(OrderRuleViolation) as raised:
        orders.cancel("1043", "demo-customer", "action-2")
    assert raised.value.status == "cancelled"


def test_writes_on_another_customers_order_are_not_found(orders):
    # Given 1043 belongs to demo-customer
    # When c-2001 tries every write on it
    # Then each is "not found" and nothing changed
    with pytest.raises(OrderNotFound):
        orders.cancel("1043", "c-2001", "a")
    with pytest.raises(OrderNotFound):
        orders.update_shipping_address("1043", "c-2001", "1 Elm St", "b")
    with pytest.raises(OrderNotFound):
        orders.request_refund("9999", "demo-customer", "c")
    order = orders.get_for_customer("1043", "demo-customer")
    assert order is not None
    assert order.status == "processing"
    assert order.version == 0


def test_refund_only_for_delivered_orders_and_only_once(orders):
    # Given delivered order 1044 and shipped order 1042
    # When refunds are requested
    refunded = orders.request_refund("1044", "demo-customer", "r-1")

    # Then the delivered one is requested once, the shipped one is refused
    assert refunded.refund_status == "requested"
    assert refunded.status == "delivered"
    with pytest.raises(OrderRuleViolation, match="already requested"):
        orders.request_refund("1044", "demo-customer", "r-2")
    with pytest.raises(OrderRuleViolation, match="only delivered orders"):
        orders.request_refund("1042", "demo-customer", "r-3")


def test_address_change_repeats_are_no_ops(orders):
    # Given processing order 1043
    # When the same address change is applied twice
    orders.update_shipping_address("1043", "demo-customer", "5 Main St, Boston, MA 02108", "addr-1")
    again = orders.update_shipping_address("1043", "demo-customer", "5 Main St, Boston, MA 02108", "addr-1")

    # Then one write happened
    assert again.shipping_address == "5 Main St, Boston, MA 02108"
    assert again.version == 1


def test_tickets_are_idempotent_and_the_inbox_lists_the_oldest_first(tickets, dynamodb):
    # Given two escalations, one delivered twice
    first = tickets.create("thread-a", "demo-customer", "wants a human", idempotency_key="call-1", now=1_800_000_000)
    repeat = tickets.create("thread-a", "demo-customer", "wants a human", idempotency_key="call-1", now=1_800_000_050)
    second = tickets.create("thread-b", "c-2001", "broken headphones", idempotency_key="call-9", now=1_800_000_100)

    # When operators list open tickets, one per page
    page, cursor = tickets.list_page("open", limit=1)
    rest, end = tickets.list_page("open", limit=1, cursor=cursor)

    # Then each escalation is one ticket, the longest waiting first, without a TTL attribute
    assert repeat == first
    assert [t.ticket_id for t in page + rest] == [first.ticket_id, second.ticket_id]
    assert tickets.list_page("open", cursor=end)[0] == [] if end else True
    assert tickets.list_page("closed")[0] == []
    item = dynamodb.get_item(
        TableName="ConversationsTable", Key={"PK": {"S": f"TICKET#{first.ticket_id}"}, "SK": {"S": "TICKET"}}
    )["Item"]
    assert "expires_at" not in item
    assert item["GSI1PK"] == {"S": "TICKETS#open"}
    assert tickets.get(first.ticket_id) == first

"""The demo orders of DESIGN.md, and the seeding that puts them in an orders table (`make seed`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smart_support.store.orders import Order, OrderItem, OrderStore

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

DEMO_CUSTOMER = "demo-customer"
OTHER_CUSTOMER = "c-2001"
DEMO_ADDRESS = "742 Evergreen Terrace, Springfield, OR 97403, USA"


DEMO_ORDERS: tuple[Order, ...] = (
    Order(
        order_id="1042",
        customer_id=DEMO_CUSTOMER,
        status="shipped",
        items=[
            OrderItem(sku="TRS-410", name="Trail running shoes", quantity=1, unit_price=64.99),
            OrderItem(sku="MWS-3PK", name="Merino wool socks (3-pack)", quantity=1, unit_price=24.98),
        ],
        total=89.97,
        placed_at="2026-11-19",
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        eta="2026-11-28",
        shipping_address=DEMO_ADDRESS,
    ),
    Order(
        order_id="1043",
        customer_id=DEMO_CUSTOMER,
        status="processing",
        items=[OrderItem(sku="WEB-200", name="Wireless earbuds", quantity=1, unit_price=59.90)],
        total=59.90,
        placed_at="2026-11-24",
        shipping_address=DEMO_ADDRESS,
    ),
    Order(
        order_id="1044",
        customer_id=DEMO_CUSTOMER,
        status="delivered",
        items=[OrderItem(sku="CPD-01", name="Ceramic pour-over coffee dripper", quantity=1, unit_price=24.50)],
        total=24.50,
        placed_at="2026-11-03",
        carrier="USPS",
        tracking_number="9400111899223100012345",
        delivered_at="2026-11-10",
        shipping_address=DEMO_ADDRESS,
    ),
    Order(
        order_id="1045",
        customer_id=DEMO_CUSTOMER,
        status="delivered",
        items=[OrderItem(sku="NCH-700", name="Noise-cancelling headphones", quantity=1, unit_price=129.00)],
        total=129.00,
        placed_at="2026-10-28",
        carrier="FedEx",
        tracking_number="771234567890",
        delivered_at="2026-11-02",
        shipping_address=DEMO_ADDRESS,
    ),
    Order(
        order_id="2001",
        customer_id=OTHER_CUSTOMER,
        status="processing",
        items=[OrderItem(sku="YGM-6MM", name="Yoga mat (6 mm)", quantity=1, unit_price=35.00)],
        total=35.00,
        placed_at="2026-11-25",
        shipping_address="18 Harbour Road, Portland, ME 04101, USA",
    ),
)


def seed_orders(target: OrderStore | DynamoDBClient, table_name: str | None = None) -> list[Order]:
    """Write (or reset) the demo orders through an OrderStore, or a DynamoDB client plus `table_name`."""
    if isinstance(target, OrderStore):
        store = target
    else:
        if not table_name:
            raise ValueError("table_name is required when seeding through a DynamoDB client")
        store = OrderStore(table_name, dynamodb=target)
    for order in DEMO_ORDERS:
        store.put(order)
    return list(DEMO_ORDERS)


def main() -> None:
    """Seed the orders table named by ORDERS_TABLE (`make seed`)."""
    from smart_support.settings import OrdersSettings, load_settings

    table = load_settings(OrdersSettings).orders_table
    orders = seed_orders(OrderStore(table))
    print(f"Seeded {len(orders)} demo orders into {table}.")


if __name__ == "__main__":
    main()

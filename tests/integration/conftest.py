"""Fixtures shared by the moto integration tests."""

import pytest

from smart_support.store.demo_data import seed_orders
from smart_support.store.orders import OrderStore


@pytest.fixture
def orders(dynamodb) -> OrderStore:
    """The orders table of template.yaml on moto, seeded with the demo orders."""
    store = OrderStore("OrdersTable", dynamodb=dynamodb)
    seed_orders(store)
    return store

"""Orders: the data access for the orders table, with ownership and business rules in each write."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from smart_support import aws
from smart_support.clock import iso
from smart_support.protocol.errors import ConflictError, NotFound, SupportError
from smart_support.store import items
from smart_support.store.dynamodb import ConditionFailed, conditional_write, store_errors

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import QueryInputTypeDef

    from smart_support.store.items import Item

OrderStatus = Literal["processing", "shipped", "delivered", "cancelled"]
OrderAction = Literal["cancel_order", "request_refund", "update_shipping_address"]


# Which status each write needs (DESIGN.md, Demo data rules).
REQUIRED_STATUS: dict[str, OrderStatus] = {
    "cancel_order": "processing",
    "update_shipping_address": "processing",
    "request_refund": "delivered",
}


class OrderNotFound(NotFound):
    """No such order for this customer (another customer's order is never revealed)."""

    default_message = "No order with that number was found on this account."


class OrderRuleViolation(ConflictError):
    """The order's state does not allow the action (e.g. cancelling a shipped order)."""

    def __init__(self, order_id: str, action: str, status: str, reason: str | None = None) -> None:
        self.order_id = order_id
        self.action = action
        self.status = status
        self.reason = reason or rule_message(order_id, action, status)
        super().__init__(self.reason)


class OrderSystemUnavailable(SupportError):
    """The order backend did not answer usably (down, timing out, the circuit open, refusing our credentials).

    Nothing is known to have changed: a write that failed this way either did not happen or is replayed by its
    Idempotency-Key the next time the same action runs; the customer is told to try again or ask for a person.
    """

    code = "order_system_unavailable"
    http_status = 503
    default_message = "I can't reach the order system right now; please try again in a few minutes or ask for a person."

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason  # for logs and the metric: timeout, connection, http_503, circuit_open, credentials...


class OrderItem(BaseModel):
    """One line of an order."""

    sku: str
    name: str
    quantity: int = 1
    unit_price: float


class Order(BaseModel):
    """An order item of the orders table."""

    model_config = ConfigDict(extra="ignore")

    order_id: str
    customer_id: str
    status: OrderStatus
    items: list[OrderItem] = Field(default_factory=list)
    total: float
    currency: str = "USD"
    placed_at: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    eta: str | None = None
    delivered_at: str | None = None
    shipping_address: str | None = None
    refund_status: Literal["requested"] | None = None
    refund_requested_at: str | None = None
    refund_amount: float | None = None
    cancelled_at: str | None = None
    updated_at: str | None = None
    last_action_id: str | None = None
    action_ids: list[str] = Field(default_factory=list)
    version: int = 0

    @property
    def item_count(self) -> int:
        """How many units the order holds."""
        return sum(item.quantity for item in self.items)

    def rule_violation(self, action: str) -> str | None:
        """Why `action` is not allowed on this order now (None when it is)."""
        required = REQUIRED_STATUS[action]
        if self.status != required:
            return rule_message(self.order_id, action, self.status)
        if action == "request_refund" and self.refund_status:
            return f"A refund for order {self.order_id} was already requested."
        return None

    def to_item(self) -> Item:
        """DynamoDB attribute values of this order."""
        values = self.model_dump(mode="json", exclude={"action_ids"})
        item = items.to_item(values)
        if self.action_ids:
            item["action_ids"] = {"SS": sorted(self.action_ids)}
        return item

    @classmethod
    def from_item(cls, item: Item) -> Order:
        """Build from a DynamoDB item."""
        return cls.model_validate(items.from_item(item) or {})


def rule_message(order_id: str, action: str, status: str) -> str:
    """A customer-facing sentence saying why `action` is not possible in `status`."""
    if action == "request_refund":
        return f"Order {order_id} is {status}; only delivered orders can be refunded."
    verb = "cancelled" if action == "cancel_order" else "re-addressed"
    return f"Order {order_id} is {status}; only orders that are still processing can be {verb}."


def order_key(order_id: str) -> Item:
    """Primary key of an order item."""
    return {"order_id": {"S": order_id}}


class OrderStore:
    """Data access for orders; every read and write is scoped to the owning customer."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def put(self, order: Order) -> None:
        """Write a whole order (seeding and tests)."""
        self._dynamodb.put_item(TableName=self.table_name, Item=order.to_item())

    def get_for_customer(self, order_id: str, customer_id: str) -> Order | None:
        """The order if `customer_id` owns it; None when absent or someone else's."""
        if not order_id or not customer_id:
            return None
        with store_errors():
            response = self._dynamodb.get_item(TableName=self.table_name, Key=order_key(order_id), ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        order = Order.from_item(item)
        return order if order.customer_id == customer_id else None

    def list_for_customer(self, customer_id: str) -> list[Order]:
        """Every order of `customer_id`, by order id."""
        orders: list[Order] = []
        kwargs: QueryInputTypeDef = {
            "TableName": self.table_name,
            "IndexName": "ByCustomer",
            "KeyConditionExpression": "customer_id = :cid",
            "ExpressionAttributeValues": items.to_values({":cid": customer_id}),
        }
        with store_errors():
            while True:
                response = self._dynamodb.query(**kwargs)
                orders.extend(Order.from_item(item) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    return orders
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def cancel(self, order_id: str, customer_id: str, action_id: str, now: float | None = None) -> Order:
        """Cancel a processing order; repeating `action_id` is a no-op that returns the order."""
        return self._apply(
            order_id,
            customer_id,
            action_id,
            "cancel_order",
            "SET #status = :cancelled, cancelled_at = :updated",
            {":cancelled": "cancelled"},
            now,
        )

    def request_refund(
        self, order_id: str, customer_id: str, action_id: str, amount: float | None = None, now: float | None = None
    ) -> Order:
        """Request a refund (the whole order unless `amount`) of a delivered order, once; `action_id` dedupes."""
        expression = "SET refund_status = :requested, refund_requested_at = :updated"
        values: dict[str, object] = {":requested": "requested"}
        if amount is not None:
            expression += ", refund_amount = :amount"
            values[":amount"] = round(float(amount), 2)
        return self._apply(
            order_id,
            customer_id,
            action_id,
            "request_refund",
            expression,
            values,
            now,
            extra_condition="attribute_not_exists(refund_status)",
        )

    def update_shipping_address(
        self, order_id: str, customer_id: str, address: str, action_id: str, now: float | None = None
    ) -> Order:
        """Change the address of a processing order; repeating `action_id` is a no-op."""
        return self._apply(
            order_id,
            customer_id,
            action_id,
            "update_shipping_address",
            "SET shipping_address = :address",
            {":address": address},
            now,
        )

    def _apply(
        self,
        order_id: str,
        customer_id: str,
        action_id: str,
        action: OrderAction,
        set_expression: str,
        values: Mapping[str, object],
        now: float | None,
        extra_condition: str | None = None,
    ) -> Order:
        # One conditional write: owner AND the status the action needs AND this action not applied yet.
        condition = "customer_id = :cid AND #status = :required AND NOT contains(action_ids, :aid)"
        if extra_condition:
            condition = f"{condition} AND {extra_condition}"
        expression = (
            f"{set_expression}, updated_at = :updated, last_action_id = :aid,"
            " version = if_not_exists(version, :zero) + :one ADD action_ids :aids"
        )
        attribute_values = items.to_values(
            {
                **values,
                ":required": REQUIRED_STATUS[action],
                ":cid": customer_id,
                ":aid": action_id,
                ":updated": iso(time.time() if now is None else now),
                ":zero": 0,
                ":one": 1,
            }
        )
        attribute_values[":aids"] = {"SS": [action_id]}
        try:
            response = conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=order_key(order_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as failed:
            outcome = self._why_not(order_id, customer_id, action_id, action, failed.old)
            if isinstance(outcome, Order):
                return outcome
            raise outcome from failed
        return Order.from_item(response["Attributes"])

    @staticmethod
    def _why_not(order_id: str, customer_id: str, action_id: str, action: str, old: Item | None) -> Order | Exception:
        if not old:
            return OrderNotFound()
        order = Order.from_item(old)
        if order.customer_id != customer_id:
            return OrderNotFound()
        if action_id in order.action_ids:
            return order  # already applied by this very action: idempotent replay
        return OrderRuleViolation(order_id, action, order.status, order.rule_violation(action))

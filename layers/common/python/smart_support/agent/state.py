"""The graph state and the supervisor's routing decision."""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field

from smart_support.agent.nodes import Specialist


class SupportState(TypedDict):
    """One conversation: its messages and who it belongs to (set by the runner each turn, never by the model)."""

    messages: Annotated[list[AnyMessage], add_messages]
    customer_id: str
    thread_id: str
    route: NotRequired[Specialist]


class RouteDecision(BaseModel):
    """Choose the specialist who should answer the customer's latest message."""

    route: Specialist = Field(
        description=(
            "order_status: status, tracking or delivery date of an order; "
            "order_actions: cancel an order, request a refund, change a shipping address; "
            "knowledge: policies and general questions (returns, shipping times, payment, warranty), "
            "greetings and anything else; "
            "escalation: the customer asks for a human or is upset and wants a person."
        )
    )

"""The graph state: the working part of one conversation (the full transcript lives in its own items)."""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.graph.message import add_messages

from smart_support.agent.nodes import Specialist


class SupportState(TypedDict):
    """Recent messages, the running summary of older ones, and who the conversation belongs to.

    `customer_id`, `thread_id` and `turn` are set by the runner each turn, never by the model.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    summary: NotRequired[str]
    customer_id: str
    thread_id: str
    turn: NotRequired[int]  # the conversation's turn: part of every approval's id (agent/tools.action_id_for)
    route: NotRequired[Specialist]


class SupportStateUpdate(TypedDict, total=False):
    """What one node changes of the state (LangGraph merges `messages` through add_messages: a RemoveMessage drops
    one)."""

    messages: list[BaseMessage]
    summary: str
    route: Specialist

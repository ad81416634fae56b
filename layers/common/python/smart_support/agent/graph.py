"""The support agent graph: a supervisor routes each turn to one specialist, which calls its tools until it answers.

    START -> supervisor -> order_status | order_actions | knowledge | escalation
    <specialist> -> <specialist>_tools -> <specialist> ... -> END

The supervisor only writes `route` (no message, no streamed text). Specialists return the AIMessage that carries
their tool calls; `<specialist>_tools` runs those calls one after another (a write tool may `interrupt()` for
approval, and the node re-runs from its start when resumed, so every tool is idempotent).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import TAG_NOSTREAM
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import tools_condition
from pydantic import ValidationError

from smart_support import aws
from smart_support.agent.intents import route_for
from smart_support.agent.nodes import SPECIALISTS, SUPERVISOR, Specialist, tools_node
from smart_support.agent.prompts import SPECIALIST_PROMPTS, SUPERVISOR_PROMPT
from smart_support.agent.state import RouteDecision, SupportState
from smart_support.agent.tools import build_toolsets
from smart_support.settings import AgentSettings
from smart_support.store.ports import OrderRepository, TicketRepository

logger = logging.getLogger(__name__)

INJECTED_FROM_STATE = ("customer_id", "thread_id")


def build_graph(
    *,
    model: BaseChatModel,
    orders: OrderRepository,
    tickets: TicketRepository,
    checkpointer: BaseCheckpointSaver[Any] | None,
) -> CompiledStateGraph[SupportState, None, SupportState, SupportState]:
    """Compile the supervisor + specialists graph over the given model, data stores and checkpointer."""
    toolsets = build_toolsets(orders, tickets)
    # Tagged nostream: the routing call never reaches stream_mode="messages".
    router = model.with_structured_output(RouteDecision).with_config(tags=[TAG_NOSTREAM], run_name="route")

    builder = StateGraph(SupportState)
    builder.add_node(SUPERVISOR, Supervisor(router))
    builder.add_edge(START, SUPERVISOR)
    builder.add_conditional_edges(SUPERVISOR, route_to_specialist, list(SPECIALISTS))
    for name in SPECIALISTS:
        tools = toolsets[name]
        builder.add_node(name, SpecialistAgent(model.bind_tools(tools), SPECIALIST_PROMPTS[name]))
        builder.add_node(tools_node(name), ToolExecutor(tools))
        builder.add_conditional_edges(name, tools_condition, {"tools": tools_node(name), END: END})
        builder.add_edge(tools_node(name), name)
    return builder.compile(checkpointer=checkpointer, name="smart-support")


def build_checkpointer(settings: AgentSettings, endpoint_url: str | None = None) -> BaseCheckpointSaver[Any]:
    """DynamoDBSaver on the checkpoints table; its TTL outlives a session that waits out a whole approval."""
    from langgraph_checkpoint_aws import DynamoDBSaver

    saver: BaseCheckpointSaver[Any] = DynamoDBSaver(
        table_name=settings.checkpoints_table,
        region_name=settings.region,
        endpoint_url=endpoint_url,
        boto_config=aws.CLIENT_CONFIG,
        ttl_seconds=settings.session_ttl_seconds + settings.approval_timeout_seconds,
    )
    return saver


# ---------------------------------------------------------------- routers


def route_to_specialist(state: SupportState) -> Specialist:
    """The specialist the supervisor chose."""
    return state.get("route", "knowledge")


# ---------------------------------------------------------------- nodes


class Supervisor:
    """The supervisor node: decides `route` for the latest customer message and says nothing."""

    def __init__(self, router: Runnable[Any, Any]) -> None:
        self.router = router

    def __call__(self, state: SupportState) -> dict[str, Any]:
        """Route the turn."""
        messages = state["messages"]
        try:
            decision = self.router.invoke([SystemMessage(SUPERVISOR_PROMPT), *close_dangling_tool_calls(messages)])
        except (OutputParserException, ValidationError):
            logger.warning("The router gave no valid decision; routing by keywords.", exc_info=True)
            decision = None
        route = decision.route if isinstance(decision, RouteDecision) else route_for(messages)
        return {"route": route}


class SpecialistAgent:
    """A specialist node: its prompt + the conversation -> an answer, or an AIMessage with tool calls."""

    def __init__(self, model: Runnable[Any, Any], prompt: str) -> None:
        self.model = model
        self.prompt = prompt

    def __call__(self, state: SupportState) -> dict[str, Any]:
        """Answer, or ask for tools."""
        reply = self.model.invoke([SystemMessage(self.prompt), *close_dangling_tool_calls(state["messages"])])
        return {"messages": [reply]}


class ToolExecutor:
    """A tool node: runs the last message's tool calls in order, customer and thread taken from the state."""

    def __init__(self, tools: Sequence[BaseTool]) -> None:
        self.by_name = {tool.name: tool for tool in tools}

    def __call__(self, state: SupportState) -> dict[str, Any]:
        """One ToolMessage per tool call."""
        last = state["messages"][-1]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        return {"messages": [run_tool(self.by_name, call, state) for call in calls]}


def run_tool(by_name: dict[str, BaseTool], call: ToolCall, state: SupportState) -> ToolMessage:
    """One tool call -> its ToolMessage (always one, also on failure); an interrupt passes through."""
    call_id = call["id"] or ""
    tool = by_name.get(call["name"])
    if tool is None:
        return _error_message(call, "unknown_tool", f"There is no tool named {call['name']}.")
    # The model never chooses whose data a tool touches: injected values overwrite anything it sent.
    params = getattr(tool.get_input_schema(), "model_fields", {})
    args = {**call["args"], **{key: state.get(key, "") for key in INJECTED_FROM_STATE if key in params}}
    try:
        result = tool.invoke({"type": "tool_call", "name": call["name"], "args": args, "id": call_id})
    except GraphBubbleUp:
        raise
    except ValidationError as exc:
        return _error_message(call, "invalid_arguments", f"Invalid arguments: {exc.error_count()} error(s).")
    except Exception:
        logger.exception("Tool %s failed", call["name"])
        return _error_message(call, "tool_failed", "The tool failed; nothing was changed. Please try again later.")
    if isinstance(result, ToolMessage):
        return result
    return ToolMessage(content=str(result), tool_call_id=call_id, name=call["name"])


def close_dangling_tool_calls(messages: Sequence[AnyMessage]) -> list[BaseMessage]:
    """The messages with a stand-in result after every tool call that never got one (models reject those)."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    closed: list[BaseMessage] = []
    for message in messages:
        closed.append(message)
        if isinstance(message, AIMessage):
            closed.extend(
                _error_message(call, "not_run", "This tool call was never completed.")
                for call in message.tool_calls
                if call["id"] not in answered
            )
    return closed


def _error_message(call: ToolCall, code: str, message: str) -> ToolMessage:
    return ToolMessage(
        content=json.dumps({"error": code, "message": message}),
        tool_call_id=call["id"] or "",
        name=call["name"],
        status="error",
    )

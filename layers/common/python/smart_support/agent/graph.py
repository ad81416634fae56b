"""The support agent graph: a supervisor routes each turn to one specialist, which calls its tools until it answers.

    START -> supervisor -> order_status | order_actions | knowledge | escalation
    <specialist> -> <specialist>_tools -> <specialist> (or another one, on a handoff) ... -> summarize -> END

The supervisor routes by keywords and calls no model, so a tool turn's first answer token comes after two model
calls (the specialist's tool call, then its answer) and a plain answer after one. A specialist that gets a
request it has no tool for hands the turn over with a `transfer_to_<specialist>` tool (one more call, only then).
Specialists see their prompt, the running summary and the recent turns (context.py); `summarize` folds the turns
that leave the window into the summary and removes them from the state, so the checkpoint stays small.
Specialists return the AIMessage that carries their tool calls; `<specialist>_tools` runs those calls one after
another (a write tool may `interrupt()` for approval, and the node re-runs from its start when resumed, so every
tool is idempotent).
Nodes that call the model retry a call that failed transiently (MODEL_RETRY): Bedrock's mid-stream errors never reach
botocore's retry modes (agent/model_errors.py). A retried call's partial answer is taken back first (agent/relay.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import TAG_NOSTREAM
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import tools_condition
from langgraph.types import RetryPolicy
from pydantic import ValidationError

from smart_support import aws
from smart_support.agent.context import SUMMARY_MAX_CHARS, ContextWindow, fold_request, recent_turns
from smart_support.agent.intents import route_for
from smart_support.agent.model_errors import is_throttled, is_transient
from smart_support.agent.models import bind_tools, system_prompt
from smart_support.agent.nodes import HANDOFF_PREFIX, SPECIALISTS, SUMMARIZER, SUPERVISOR, Specialist, tools_node
from smart_support.agent.prompts import (
    HANDOFF_DESCRIPTIONS,
    ROUTER_PROMPT,
    ROUTER_QUESTION,
    SPECIALIST_PROMPTS,
    SUMMARY_PROMPT,
)
from smart_support.agent.state import SupportState, SupportStateUpdate
from smart_support.agent.tools import build_toolsets
from smart_support.knowledge.source import HelpCenter
from smart_support.settings import AgentSettings, ContextSettings
from smart_support.store.ports import OrderRepository, TicketRepository

logger = logging.getLogger(__name__)

Router = Literal["keywords", "model"]
INJECTED_FROM_STATE = ("customer_id", "thread_id")
MAX_HANDOFFS_PER_TURN = 2  # and never straight back: two specialists cannot pass a turn to and fro
MAX_TOOL_ROUNDS_PER_TURN = 6  # then the specialist answers without tools: no turn ends in a recursion limit
ANSWER_NOW = (
    "You have used your tools enough for this message. Answer the customer now in plain text with what you know "
    "from the tool results above; if you could not do what they asked, say so and offer to hand them to a person."
)
# A model call that failed transiently, tried again in the node (the first policy that matches applies); LangGraph
# adds up to 1 s of jitter to each wait. Past these, the task fails and the state machine retries it (agent/retry.py).
MODEL_RETRY = (
    RetryPolicy(retry_on=is_throttled, initial_interval=2.0, backoff_factor=2.0, max_interval=8.0, max_attempts=3),
    RetryPolicy(retry_on=is_transient, initial_interval=0.5, backoff_factor=2.0, max_interval=4.0, max_attempts=3),
)


def build_graph(
    *,
    model: BaseChatModel,
    orders: OrderRepository,
    tickets: TicketRepository,
    checkpointer: BaseCheckpointSaver[Any] | None,
    context: ContextWindow | None = None,
    router: Router = "keywords",
    help_center: HelpCenter | None = None,
) -> CompiledStateGraph[SupportState, None, SupportState, SupportState]:
    """Compile the supervisor + specialists graph over the given model, data stores and checkpointer.

    `router`: `keywords` (the supervisor reads the customer's words, no model call) or `model` (the supervisor asks
    the model which specialist should answer; keywords decide when its answer names none). docs/agent.md compares
    them by `make eval`'s numbers.
    """
    context = context or ContextWindow()
    toolsets = build_toolsets(orders, tickets, help_center)

    builder = StateGraph(SupportState)
    if router == "model":
        builder.add_node(SUPERVISOR, ModelRouter(model, context), retry_policy=MODEL_RETRY)
    else:
        builder.add_node(SUPERVISOR, route_turn)
    builder.add_edge(START, SUPERVISOR)
    builder.add_conditional_edges(SUPERVISOR, route_to_specialist, list(SPECIALISTS))
    for name in SPECIALISTS:
        tools = [*toolsets[name], *(handoff_tool(other) for other in SPECIALISTS if other != name)]
        builder.add_node(
            name,
            SpecialistAgent(
                bind_tools(model, tools), system_prompt(model, SPECIALIST_PROMPTS[name]), context, plain=model
            ),
            retry_policy=MODEL_RETRY,
        )
        builder.add_node(tools_node(name), ToolExecutor(tools, name))
        builder.add_conditional_edges(name, tools_condition, {"tools": tools_node(name), END: SUMMARIZER})
        builder.add_conditional_edges(tools_node(name), route_to_specialist, list(SPECIALISTS))
    builder.add_node(SUMMARIZER, Summarizer(model, context), retry_policy=MODEL_RETRY)
    builder.add_edge(SUMMARIZER, END)
    return builder.compile(checkpointer=checkpointer, name="smart-support")


def build_checkpointer(settings: AgentSettings, endpoint_url: str | None = None) -> BaseCheckpointSaver[Any]:
    """DynamoDB checkpoints (latest only, compressed); their TTL outlives a session that waits out a whole approval."""
    from smart_support.agent.checkpoints import LatestCheckpointSaver

    return LatestCheckpointSaver(
        table_name=settings.checkpoints_table,
        region_name=settings.region,
        endpoint_url=endpoint_url,
        boto_config=aws.CLIENT_CONFIG,
        ttl_seconds=settings.session_ttl_seconds + settings.approval_timeout_seconds,
        enable_checkpoint_compression=True,
    )


def context_window(settings: ContextSettings) -> ContextWindow:
    """The context budget of `settings` (CONTEXT_TOKENS, CONTEXT_TURNS)."""
    return ContextWindow(tokens=settings.context_tokens, turns=settings.context_turns)


def handoff_tool(target: Specialist) -> BaseTool:
    """A tool that hands the turn to `target` (the tool node then routes there)."""

    def transfer() -> str:
        return json.dumps({"transferred_to": target})

    return StructuredTool.from_function(
        transfer, name=f"{HANDOFF_PREFIX}{target}", description=HANDOFF_DESCRIPTIONS[target]
    )


# ---------------------------------------------------------------- routers


def route_turn(state: SupportState) -> SupportStateUpdate:
    """The supervisor: route the latest customer message by its intent (no model call)."""
    return {"route": route_for(state["messages"])}


class ModelRouter:
    """The supervisor as one short model call: which specialist answers this turn (keywords when it names none)."""

    def __init__(self, model: BaseChatModel, context: ContextWindow) -> None:
        self.model = model.with_config(tags=[TAG_NOSTREAM], run_name="route")  # never streamed to the customer
        self.context = context
        self.system = SystemMessage(ROUTER_PROMPT)

    def __call__(self, state: SupportState) -> SupportStateUpdate:
        """{"route": specialist}."""
        messages = close_dangling_tool_calls(state["messages"])
        request = self.context.model_input(self.system, state.get("summary", ""), messages)
        try:
            answer = self.model.invoke([*request, HumanMessage(ROUTER_QUESTION)]).text.lower()
        except GraphBubbleUp:
            raise
        named = [name for name in SPECIALISTS if name in answer.replace("-", "_").replace(" ", "_")]
        return {"route": named[0] if len(named) == 1 else route_for(state["messages"])}


def route_to_specialist(state: SupportState) -> Specialist:
    """The specialist the supervisor chose, or the one a handoff named."""
    return state.get("route", "knowledge")


# ---------------------------------------------------------------- nodes


class SpecialistAgent:
    """A specialist node: its prompt + summary + recent turns -> an answer, or an AIMessage with tool calls."""

    def __init__(
        self,
        model: Runnable[Any, Any],
        system: SystemMessage,
        context: ContextWindow,
        plain: Runnable[Any, Any] | None = None,
    ) -> None:
        self.model = model
        self.plain = plain  # the same model without tools: after MAX_TOOL_ROUNDS_PER_TURN it must answer
        self.system = system
        self.context = context

    def __call__(self, state: SupportState) -> SupportStateUpdate:
        """Answer, or ask for tools (at most MAX_TOOL_ROUNDS_PER_TURN rounds a turn, then an answer)."""
        messages = close_dangling_tool_calls(state["messages"])
        request = self.context.model_input(self.system, state.get("summary", ""), messages)
        if self.plain is not None and tool_rounds(messages) >= MAX_TOOL_ROUNDS_PER_TURN:
            reply = self.plain.invoke([*request, SystemMessage(ANSWER_NOW)])
            if isinstance(reply, AIMessage) and reply.tool_calls:  # a model that calls tools it was not given
                reply = AIMessage(content=reply.text or ANSWER_FALLBACK, id=reply.id)
            return {"messages": [reply]}
        reply = self.model.invoke(request)
        return {"messages": [reply]}


class Summarizer:
    """The last node of a turn: folds the turns that leave the window into the summary, removes them from the state."""

    def __init__(self, model: BaseChatModel, context: ContextWindow) -> None:
        # Tagged nostream: the notes never reach the customer.
        self.model = model.with_config(tags=[TAG_NOSTREAM], run_name="summarize")
        self.context = context

    def __call__(self, state: SupportState) -> SupportStateUpdate:
        """Nothing while the window holds every turn; else one model call and RemoveMessage for the folded turns."""
        folded = self.context.fold(state["messages"])
        if not folded:
            return {}
        # Only the latest of them reach the request (it matters once: a thread checkpointed before this design).
        request = fold_request(state.get("summary", ""), recent_turns(folded, self.context.tokens, len(folded)))
        reply = self.model.invoke([SystemMessage(SUMMARY_PROMPT), HumanMessage(request)])
        summary = reply.text.strip()[:SUMMARY_MAX_CHARS]
        return {"summary": summary, "messages": [RemoveMessage(id=m.id) for m in folded if m.id]}


class ToolExecutor:
    """A tool node: runs the last message's tool calls in order, customer and thread taken from the state."""

    def __init__(self, tools: Sequence[BaseTool], owner: str = "") -> None:
        self.by_name = {tool.name: tool for tool in tools}
        self.owner = owner  # the specialist whose calls these are

    def __call__(self, state: SupportState) -> SupportStateUpdate:
        """One ToolMessage per tool call; a handoff also sets the route, within the turn's handoff limits."""
        last = state["messages"][-1]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        messages: list[BaseMessage] = []
        update: SupportStateUpdate = {}
        for call in calls:
            target = call["name"].removeprefix(HANDOFF_PREFIX)
            specialist = next((name for name in SPECIALISTS if name == target), None)
            if not call["name"].startswith(HANDOFF_PREFIX) or specialist is None:
                messages.append(run_tool(self.by_name, call, state))
                continue
            if refused := self._refuse_handoff(state["messages"], specialist, messages):
                messages.append(_error_message(call, "not_transferred", refused))
                continue
            messages.append(
                ToolMessage(
                    content=json.dumps({"transferred_to": specialist, "from": self.owner}),
                    tool_call_id=call["id"] or "",
                    name=call["name"],
                )
            )
            update["route"] = specialist
        update["messages"] = messages
        return update

    def _refuse_handoff(
        self, messages: Sequence[AnyMessage], target: str, pending: Sequence[BaseMessage]
    ) -> str | None:
        """Why this handoff may not happen: the turn's limit, or straight back to who just handed over."""
        done = [*handoffs_this_turn(messages), *(h for h in map(_handoff_of, pending) if h)]
        if len(done) >= MAX_HANDOFFS_PER_TURN:
            return "This message was handed over enough times: answer the customer yourself now."
        if done and done[-1] == (target, self.owner):
            return f"{target} just handed this to you: answer the customer yourself, do not hand it back."
        return None


def run_tool(by_name: dict[str, BaseTool], call: ToolCall, state: SupportState) -> ToolMessage:
    """One tool call -> its ToolMessage (always one, also on failure); an interrupt passes through."""
    call_id = call["id"] or ""
    tool = by_name.get(call["name"])
    if tool is None:
        return _error_message(call, "unknown_tool", f"There is no tool named {call['name']}.")
    # The model never chooses whose data a tool touches: injected values overwrite anything it sent.
    params = getattr(tool.get_input_schema(), "model_fields", {})
    args = {**call["args"], **{key: state.get(key, "") for key in INJECTED_FROM_STATE if key in params}}
    if "state" in params:  # the gated writes read the turn and the message that asked (agent/tools.action_id_for)
        args["state"] = state
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


def current_turn(messages: Sequence[BaseMessage]) -> Sequence[BaseMessage]:
    """The messages since the customer's latest message (the turn being answered)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage) and message.name != "operator":
            return messages[index + 1 :]
    return messages


def tool_rounds(messages: Sequence[BaseMessage]) -> int:
    """How many times the model asked for tools in the current turn."""
    return sum(1 for m in current_turn(messages) if isinstance(m, AIMessage) and m.tool_calls)


def handoffs_this_turn(messages: Sequence[BaseMessage]) -> list[tuple[str, str]]:
    """The (from, to) of every handoff that happened in the current turn, in order."""
    return [h for h in map(_handoff_of, current_turn(messages)) if h]


def _handoff_of(message: BaseMessage) -> tuple[str, str] | None:
    if not isinstance(message, ToolMessage) or not str(message.name or "").startswith(HANDOFF_PREFIX):
        return None
    try:
        payload = json.loads(message.text)
    except ValueError:
        return None
    if not isinstance(payload, dict) or "transferred_to" not in payload:
        return None
    return str(payload.get("from", "")), str(payload["transferred_to"])


ANSWER_FALLBACK = "I'm sorry, I couldn't finish that. Would you like me to hand you over to a person?"


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

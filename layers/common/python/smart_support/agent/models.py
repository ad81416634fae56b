"""Chat models: the offline deterministic model (default, no AWS needed), Amazon Bedrock (ChatBedrockConverse) and
any OpenAI-compatible endpoint (ChatOpenAI: llama.cpp server, vLLM, Ollama, hosted APIs)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.config import Config
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import SecretStr

from smart_support.agent import prompts
from smart_support.agent.context import FOLD_MARKER, summary_of
from smart_support.agent.intents import (
    MORE,
    ROUTES,
    Intent,
    Request,
    detect_intent,
    english_topics,
    first_order_in_conversation,
    human_texts,
    is_customer,
    is_thanks,
    order_id_in,
    order_id_in_conversation,
    plan,
    plausible_address,
    turn_requests,
    turn_texts,
)
from smart_support.agent.model_errors import injected_fault, stream_error
from smart_support.agent.nodes import HANDOFF_PREFIX
from smart_support.settings import AgentModelSettings
from smart_support.store.orders import OrderSystemUnavailable

# Throttling on Bedrock is common at low quotas: adaptive retries back off client-side too.
BEDROCK_CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 6},  # the first call + 5 retries
    connect_timeout=5,
    read_timeout=120,
    tcp_keepalive=True,
)
BEDROCK_MAX_TOKENS = 1024
# Bedrock models that take cachePoint blocks (Converse prompt caching); Nova caches system and messages, not tools.
_CACHING_MODELS = re.compile(r"anthropic\.claude-(3-5-haiku|3-7-sonnet|(sonnet|opus|haiku)-4)|amazon\.nova-")
_TOOL_CACHING_MODELS = re.compile(r"anthropic\.claude-")

# OpenAI-compatible endpoints: the timeout (OPENAI_TIMEOUT_SECONDS, 60 s) is per read, so a stream that keeps sending
# runs on (the function's own timeout bounds a turn); the client retries connection errors, 408/409/429 and 5xx
# before a stream opens.
OPENAI_MAX_RETRIES = 2
OPENAI_MAX_TOKENS = 1024  # max_completion_tokens (llama.cpp's server reads it since early 2026; older ones ignore it)
NO_API_KEY = "none"  # sent when no key is configured: llama.cpp checks none unless started with --api-key

OFFLINE_MODEL_NAME = "smart-support-offline"
_WORDS = re.compile(r"\S+\s*")


class OfflineChatModel(BaseChatModel):
    """A deterministic support model: reads the conversation, emits real tool calls, streams word by word."""

    token_delay_ms: int = 20
    first_token_ms: int = 0  # a hosted model's time to first token, slept once per call

    @property
    def _llm_type(self) -> str:
        return OFFLINE_MODEL_NAME

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (their names decide what this model may call)."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self.reply(messages, tool_names(kwargs.get("tools")))
        self._wait_first_token()
        message.usage_metadata = _usage(messages, kwargs.get("tools"), message.text, message.tool_calls)
        message.response_metadata = {"model_name": OFFLINE_MODEL_NAME}
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self.reply(messages, tool_names(kwargs.get("tools")))
        usage = _usage(messages, kwargs.get("tools"), message.text, message.tool_calls)
        metadata = {"model_name": OFFLINE_MODEL_NAME}
        fault = injected_fault("ConverseStream")  # LOCAL_FAULTS: Bedrock failing after the stream opened
        self._wait_first_token()
        words = _WORDS.findall(message.text)
        if fault and (message.tool_calls or len(words) < 2):
            raise stream_error(fault)
        if message.tool_calls:
            chunks = [
                tool_call_chunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=index)
                for index, call in enumerate(message.tool_calls)
            ]
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="", tool_call_chunks=chunks, usage_metadata=usage, response_metadata=metadata
                )
            )
            return
        # langchain-core reports each chunk to the callbacks (the runner's TokenTap) itself.
        for index, word in enumerate(words):
            if fault and index == len(words) // 2:  # half the answer streamed, as a throttled stream breaks off
                raise stream_error(fault)
            if index and self.token_delay_ms:
                time.sleep(self.token_delay_ms / 1000)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage, response_metadata=metadata))

    def _wait_first_token(self) -> None:
        if self.first_token_ms:
            time.sleep(self.first_token_ms / 1000)

    def reply(self, messages: Sequence[BaseMessage], tools: Sequence[str]) -> AIMessage:
        """The whole reply to `messages` with `tools` bound: a tool call, a text answer, or updated notes."""
        system = [m.text for m in messages if isinstance(m, SystemMessage)]
        conversation = [m for m in messages if not isinstance(m, SystemMessage)]
        if system and system[0] == prompts.SUMMARY_PROMPT:
            return AIMessage(content=write_notes(conversation[-1].text if conversation else ""))
        return _decide(conversation, tools, Notes.parse(summary_of(messages)))


def tool_names(tools: Sequence[dict[str, Any]] | None) -> list[str]:
    """The names of tools bound in OpenAI format."""
    return [tool["function"]["name"] for tool in tools or []]


def _usage(
    messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None, text: str, calls: Sequence[Any]
) -> UsageMetadata:
    """Approximate token counts of one call, as a hosted model reports them."""
    prompt = count_tokens_approximately(messages, tools=list(tools or []))
    written = len(text) + (len(json.dumps(list(calls))) if calls else 0)
    output = max(1, round(written / 4))
    return UsageMetadata(input_tokens=prompt, output_tokens=output, total_tokens=prompt + output)


def tool_results_of_turn(messages: Sequence[BaseMessage]) -> list[tuple[str, dict[str, Any]]]:
    """(tool name, parsed result) of the tool messages that answer the latest tool calls of this turn."""
    if not messages or not isinstance(messages[-1], ToolMessage):
        return []
    names: dict[str, str] = {}
    results: list[tuple[str, dict[str, Any]]] = []
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            results.append((message.tool_call_id, _parse(message.text)))
        elif isinstance(message, AIMessage):
            names = {call["id"] or "": call["name"] for call in message.tool_calls}
            break
    return [(names.get(call_id, ""), payload) for call_id, payload in reversed(results)]


# ---------------------------------------------------------------- deciding: the turn's requests, one call at a time

TOOL_FOR: dict[Intent, str] = {
    "status": "get_order_status",
    "track": "track_shipment",
    "cancel": "cancel_order",
    "refund": "request_refund",
    "change_address": "update_shipping_address",
    "faq": "search_faq",
    "escalate": "escalate_to_human",
}
MAX_HANDOFFS_PER_TURN = 2
MORE_ANSWER = "Of course. What else can I help you with?"
INCOMPLETE_ADDRESS = "That doesn't look like a complete postal address, so I haven't asked to change anything. "


@dataclass(frozen=True)
class _Call:
    """A tool call of this turn and its parsed result (None until it ran)."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any] | None


def _decide(conversation: list[BaseMessage], tools: Sequence[str], notes: Notes) -> AIMessage:
    """The next step of the turn: the first request not served yet (its tool, or the handoff to the specialist that
    has it), else the answer to everything the turn asked, from the tool results of the turn."""
    requests = [_resolve(request, conversation, notes) for request in plan(turn_requests(conversation))]
    calls = _calls_of_turn(conversation)
    handoffs = sum(call.name.startswith(HANDOFF_PREFIX) for call in calls)
    for request in requests:
        wanted = _call_for(request)
        if wanted is None or any(_same_call(call, *wanted) for call in calls):
            continue
        name, args = wanted
        if name in tools:
            return _tool_call(conversation, name, args)
        handoff = f"{HANDOFF_PREFIX}{ROUTES[request.intent]}"
        if handoff in tools and handoffs < MAX_HANDOFFS_PER_TURN:
            return _tool_call(conversation, handoff, {})
    return AIMessage(content=_answer(requests, calls, conversation, notes))


def _resolve(request: Request, conversation: Sequence[BaseMessage], notes: Notes) -> Request:
    """The request with its order: named in the turn, else "the first order I asked about", else the order the
    conversation is about (the latest one named, or the summary's order being discussed)."""
    if request.order_id or request.intent not in (*TOOL_FOR, "recall"):
        return request
    if request.first_order:
        first = order_id_in(notes.first_request) or (notes.orders[0] if notes.orders else None)
        order_id = first if notes.turns else first_order_in_conversation(conversation)
    else:
        order_id = order_id_in_conversation(conversation) or notes.current_order or None
    return replace(request, order_id=order_id)


def _call_for(request: Request) -> tuple[str, dict[str, Any]] | None:
    """The tool call that serves `request`, or None (no tool does, or it lacks the order or a usable address)."""
    name = TOOL_FOR.get(request.intent)
    if name is None:
        return None
    if name == "search_faq":
        return name, {"query": english_topics(request.text) or request.text}
    if name == "escalate_to_human":
        about = f" (order {request.order_id})" if request.order_id else ""
        return name, {"summary": f"Customer asked for a human{about}: {request.message}"[:300]}
    if not request.order_id:
        return None
    if name == "update_shipping_address":
        if not request.address or not plausible_address(request.address):
            return None
        return name, {"order_id": request.order_id, "address": request.address}
    if name == "request_refund":
        return name, {"order_id": request.order_id, "reason": " ".join(request.message.split())[:300]}
    return name, {"order_id": request.order_id}


def _same_call(call: _Call, name: str, args: dict[str, Any]) -> bool:
    """Whether `call` already served the request that wants `name(args)` (asked once a turn, whatever came of it)."""
    if call.name != name:
        return False
    if name == "escalate_to_human":
        return True
    if name == "search_faq":
        return bool(call.args.get("query") == args["query"])
    return str(call.args.get("order_id")) == str(args["order_id"])


def _calls_of_turn(conversation: Sequence[BaseMessage]) -> list[_Call]:
    """The tool calls made since the customer's latest message, with their results."""
    humans = [i for i, message in enumerate(conversation) if is_customer(message)]
    turn = conversation[humans[-1] + 1 :] if humans else conversation
    results = {m.tool_call_id: _parse(m.text) for m in turn if isinstance(m, ToolMessage)}
    return [
        _Call(call["name"], call["args"], results.get(call["id"] or ""))
        for message in turn
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    ]


def _answer(requests: Sequence[Request], calls: Sequence[_Call], conversation: list[BaseMessage], notes: Notes) -> str:
    """One answer to every request of the turn, in the order they were served: tool results, recall, questions back."""
    done = [call for call in calls if call.result is not None and not call.name.startswith(HANDOFF_PREFIX)]
    pieces: list[str] = []
    for request in requests:
        wanted = _call_for(request)
        served = [call for call in done if wanted and _same_call(call, *wanted)]
        pieces += [answer_for(call.name, call.result or {}) for call in served]
        done = [call for call in done if call not in served]
        if served:
            continue
        if request.intent == "recall":
            pieces.append(_recall_answer(_texts_before_turn(conversation), notes))
        elif request.intent in TOOL_FOR and request.intent not in ("faq", "escalate") and not request.order_id:
            pieces.append(prompts.ASK_ORDER_NUMBER)
        elif request.intent == "change_address" and wanted is None:
            pieces.append((INCOMPLETE_ADDRESS if request.address else "") + prompts.ASK_ADDRESS)
    pieces += [answer_for(call.name, call.result or {}) for call in done]  # calls no request names (kept, not lost)
    texts = turn_texts(conversation)
    more = any(MORE.search(text) for text in texts)  # "one more thing": ask what else, after the answer
    if not pieces:
        if more:
            return MORE_ANSWER
        if any(detect_intent(text) == "greeting" for text in texts):
            return prompts.THANKS if is_thanks(texts) else prompts.GREETING
        return prompts.CAPABILITIES
    answer = " ".join(dict.fromkeys(pieces))
    return f"{answer} {MORE_ANSWER}" if more else answer


def _texts_before_turn(conversation: Sequence[BaseMessage]) -> list[str]:
    """The customer's messages before the latest turn."""
    texts, current = human_texts(conversation), turn_texts(conversation)
    return texts[: len(texts) - len(current)]


def _recall_answer(earlier: list[str], notes: Notes) -> str:
    """What the customer asked before, from the notes or the recent turns; or that it is gone."""
    if notes.turns:
        if not notes.first_request:
            return prompts.FORGOTTEN
        answer = f'Your first request in this conversation was: "{notes.first_request}".'
        if notes.orders:
            answer += f" The orders we discussed before the last few messages: {', '.join(notes.orders)}."
        if notes.dropped_orders:
            answer += f" I no longer have the details of {notes.dropped_orders} earlier order(s)."
        return answer
    if earlier:
        return f'Your first request in this conversation was: "{_short(earlier[0])}".'
    return "This is the first thing you've asked me in this conversation."


def _tool_call(conversation: Sequence[BaseMessage], name: str, args: dict[str, Any]) -> AIMessage:
    # Unique per call, as a hosted model's ids are: the visible history repeats once older turns are summarised,
    # so an id derived from it would repeat too (and nothing may rely on the model's ids being unique anyway).
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])


def _parse(content: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return {"error": "unreadable", "message": content}
    return value if isinstance(value, dict) else {"value": value}


# ---------------------------------------------------------------- notes (the running summary, offline)

MAX_NOTED_ORDERS = 20
MAX_NOTED_REQUESTS = 3
_ORDER_FIELD = re.compile(r"order_id['\"]?\s*[:=]\s*['\"]?(\d{3,10})")
_SPEAKER = re.compile(r"^(Customer|Assistant|Tool|System|Human|AI): ", re.MULTILINE)
_FOLLOW_UP_INTENTS = ("cancel", "refund", "change_address", "escalate")


@dataclass
class Notes:
    """The offline model's running summary: the facts a support agent needs from older turns, bounded."""

    turns: int = 0
    first_request: str = ""
    orders: list[str] = field(default_factory=list)  # the latest MAX_NOTED_ORDERS, oldest first
    dropped_orders: int = 0
    current_order: str = ""
    requests: list[str] = field(default_factory=list)  # 'refund 1044: "it arrived broken"', the latest few

    @classmethod
    def parse(cls, text: str) -> Notes:
        """Read notes written by `render` (anything else reads as empty notes)."""
        notes = cls()
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key == "Turns summarized" and value.isdigit():
                notes.turns = int(value)
            elif key == "First request":
                notes.first_request = value.strip('"')
            elif key == "Orders discussed, oldest first":
                listed, _, dropped = value.partition(" (")
                notes.orders = [o.strip() for o in listed.split(",") if o.strip()]
                notes.dropped_orders = int(dropped.split()[0]) if dropped[:1].isdigit() else 0
            elif key == "Order being discussed":
                notes.current_order = value
            elif key == "Requests and stated reasons":
                notes.requests = [r for r in value.split(" | ") if r]
        return notes

    def render(self) -> str:
        """The notes as plain lines (what the specialists read as the summary)."""
        lines = [f"Turns summarized: {self.turns}"]
        if self.first_request:
            lines.append(f'First request: "{self.first_request}"')
        if self.orders:
            dropped = f" ({self.dropped_orders} earlier ones dropped)" if self.dropped_orders else ""
            lines.append(f"Orders discussed, oldest first: {', '.join(self.orders)}{dropped}")
            lines.append(f"Order being discussed: {self.current_order or self.orders[-1]}")
        if self.requests:
            lines.append(f"Requests and stated reasons: {' | '.join(self.requests)}")
        return "\n".join(lines)

    def add(self, transcript: str) -> None:
        """Fold a transcript ("Customer: ...", "Assistant: ...", "Tool: ...") into the notes."""
        parts = _SPEAKER.split(transcript)
        for speaker, text in zip(parts[1::2], parts[2::2], strict=True):
            if speaker in ("Customer", "Human"):
                self.turns += 1
                self.first_request = self.first_request or _short(text)
                order_id = order_id_in(text)
                if order_id:
                    self._mention(order_id)
                intent = detect_intent(text)
                if intent in _FOLLOW_UP_INTENTS:
                    about = order_id or self.current_order or "no order"
                    self.requests = [*self.requests, f'{intent} {about}: "{_short(text, 160)}"'][-MAX_NOTED_REQUESTS:]
            else:
                for order_id in _ORDER_FIELD.findall(text):
                    self._mention(order_id)

    def _mention(self, order_id: str) -> None:
        if order_id in self.orders:
            self.orders.remove(order_id)
        self.orders.append(order_id)
        if len(self.orders) > MAX_NOTED_ORDERS:
            self.orders.pop(0)
            self.dropped_orders += 1
        self.current_order = order_id


def write_notes(request: str) -> str:
    """The offline summarizer: the notes so far updated with the messages leaving the window."""
    head, _, transcript = request.partition(FOLD_MARKER)
    notes = Notes.parse(head.partition("\n")[2])
    notes.add(transcript.strip())
    return notes.render()


def _short(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split()).replace('"', "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ---------------------------------------------------------------- answers from tool results


def answer_for(tool: str, payload: dict[str, Any]) -> str:
    """The customer-facing sentence(s) for one tool result."""
    order_id = payload.get("order_id", "")
    error = payload.get("error")
    if error == "not_found":
        return f"I couldn't find order {order_id} on your account. Please check the order number."
    if error == "not_allowed":
        return f"I can't do that: {payload.get('message', '')} Nothing was changed."
    if error == "invalid_address":
        return f"{payload.get('message', '')} Please send the new address again, on one line. Nothing was changed."
    if error == "order_system_unavailable":
        return str(payload.get("message") or OrderSystemUnavailable.default_message)
    if error in ("invalid_amount", "invalid_edit"):
        return f"I can't do that: {payload.get('message', '')} Nothing was changed."
    if error:
        return "Sorry, something went wrong on our side while I was checking that. Please try again in a moment."
    composer = _COMPOSERS.get(tool)
    return composer(payload) if composer else prompts.CAPABILITIES


def _items(payload: dict[str, Any]) -> str:
    items = payload.get("items") or []
    count = sum(int(item.get("quantity", 1)) for item in items)
    names = ", ".join(item["name"] for item in items)
    return f"It contains {count} item{'' if count == 1 else 's'} ({names}), total ${float(payload['total']):.2f}."


def _status_answer(p: dict[str, Any]) -> str:
    order_id, status = p["order_id"], p["status"]
    if status == "shipped":
        return (
            f"Order {order_id} has shipped with {p.get('carrier')} (tracking number {p.get('tracking_number')}) "
            f"and should arrive by {p.get('eta')}. {_items(p)}"
        )
    if status == "processing":
        return (
            f"Order {order_id} is processing: it hasn't shipped yet. {_items(p)} "
            "It can still be cancelled or sent to a different address."
        )
    if status == "delivered":
        refund = " A refund has been requested for it." if p.get("refund_status") else ""
        return f"Order {order_id} was delivered on {p.get('delivered_at')}. {_items(p)}{refund}"
    return f"Order {order_id} is cancelled. {_items(p)}"


def _track_answer(p: dict[str, Any]) -> str:
    order_id, status = p["order_id"], p["status"]
    if status == "shipped":
        return (
            f"Order {order_id} is on its way with {p.get('carrier')}, tracking number {p.get('tracking_number')}. "
            f"It should arrive by {p.get('eta')}."
        )
    if status == "processing":
        return (
            f"Order {order_id} is still processing and hasn't shipped yet, so there is no tracking number yet. "
            "You'll get one as soon as it ships."
        )
    if status == "delivered":
        return f"Order {order_id} was delivered on {p.get('delivered_at')} by {p.get('carrier')}."
    return f"Order {order_id} was cancelled, so it won't be delivered."


_NOT_DONE = {
    "cancel_order": "cancel order {order_id}",
    "request_refund": "request a refund for order {order_id}",
    "update_shipping_address": "change the shipping address of order {order_id}",
}


def _write_answer(p: dict[str, Any]) -> str:
    order_id = p["order_id"]
    result = p.get("result")
    comment = p.get("comment")
    said = f' The reviewer said: "{comment}"' if comment else ""
    if result == "not_changed":
        why = {
            "timeout": "the approval timed out",
            "withdrawn": "you withdrew the request",
        }.get(str(p.get("reason")), "the request was declined")
        action = _NOT_DONE[p["action"]].format(order_id=order_id)
        answer = f"I did not {action}: {why}, so nothing was changed.{said}"
        if p.get("reason") == "timeout":
            answer += " A support agent will follow up with you here."
        return answer
    if result == "cancelled":
        return f"Order {order_id} is now cancelled. Nothing will ship, and you won't be charged for it.{said}"
    if result == "refund_requested":
        return (
            f"I've requested a refund of ${float(p.get('amount', 0)):.2f} for order {order_id}. It goes back to "
            f"your original payment method within 5-7 business days.{said}"
        )
    return f"Done: order {order_id} will now ship to {p.get('shipping_address')}.{said}"


def _faq_answer(p: dict[str, Any]) -> str:
    """The best passage, quoted, with its article's title (the chat links the article under the answer)."""
    articles = p.get("articles") or []
    if not articles:
        return prompts.DONT_KNOW
    best = articles[0]
    return f'{best["passage"]} (from our help article "{best["title"]}")'


def _escalation_answer(p: dict[str, Any]) -> str:
    if p.get("joined"):
        return (
            f"A person already has your request (ticket {p.get('ticket_id')}); I've added this to it, and someone "
            "from our team will follow up with you as soon as possible."
        )
    return (
        f"I've handed this over to a support agent (ticket {p.get('ticket_id')}). Someone from our team will "
        "reply in this conversation as soon as possible."
    )


_COMPOSERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "get_order_status": _status_answer,
    "track_shipment": _track_answer,
    "cancel_order": _write_answer,
    "request_refund": _write_answer,
    "update_shipping_address": _write_answer,
    "search_faq": _faq_answer,
    "escalate_to_human": _escalation_answer,
}


# ---------------------------------------------------------------- providers


def build_bedrock_model(settings: AgentModelSettings, client: Any = None) -> BaseChatModel:
    """ChatBedrockConverse for `settings.bedrock_model`, streaming, with retries on throttling."""
    from langchain_aws import ChatBedrockConverse  # heavy import: only when Bedrock is the provider

    extra: dict[str, Any] = {"client": client} if client is not None else {}
    return ChatBedrockConverse(
        model=settings.bedrock_model,
        region_name=settings.region,
        config=BEDROCK_CLIENT_CONFIG,
        temperature=0,
        max_tokens=BEDROCK_MAX_TOKENS,
        **extra,
    )


def openai_api_key(settings: AgentModelSettings) -> SecretStr | Callable[[], str]:
    """OPENAI_API_KEY when set (locally); else a reader of the SecureString OPENAI_API_KEY_PARAMETER names; else none.

    The parameter is read when a request first needs it and then every 5 minutes at most (Powertools' cache), not at
    init: with SnapStart the init runs once per published version, and a key read then would outlive its rotation.
    """
    if settings.openai_api_key:
        return SecretStr(settings.openai_api_key)
    parameter = settings.openai_api_key_parameter
    if parameter:
        from smart_support.auth.secrets import secret

        return lambda: secret(None, parameter)
    return SecretStr(NO_API_KEY)


def build_openai_model(
    settings: AgentModelSettings, api_key: SecretStr | Callable[[], str] | None = None
) -> BaseChatModel:
    """ChatOpenAI on `settings.openai_base_url` (any OpenAI-compatible endpoint), streaming with usage; a tool call
    the model wrote as text becomes a call (agent/text_tool_calls.py)."""
    # heavy import: only when an OpenAI-compatible endpoint is the provider
    from smart_support.agent.text_tool_calls import TextToolCallsChatOpenAI

    return TextToolCallsChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=api_key or openai_api_key(settings),  # always given: never OPENAI_API_KEY read behind our back
        temperature=0,
        max_completion_tokens=OPENAI_MAX_TOKENS,
        streaming=True,
        stream_usage=True,  # stream_options.include_usage: the last chunk carries the token counts
        max_retries=OPENAI_MAX_RETRIES,
        timeout=settings.openai_timeout_seconds,
    )


def build_model(settings: AgentModelSettings) -> BaseChatModel:
    """The chat model `settings.model_provider` names."""
    if settings.model_provider == "bedrock":
        return build_bedrock_model(settings)
    if settings.model_provider == "openai":
        return build_openai_model(settings)
    return OfflineChatModel(
        token_delay_ms=settings.offline_token_delay_ms, first_token_ms=settings.offline_first_token_ms
    )


CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}


def caches_prompts(model: BaseChatModel) -> tuple[bool, bool]:
    """(system prompt, tool definitions): which parts of a request `model` can mark for Bedrock prompt caching."""
    model_id = str(getattr(model, "model_id", "")) if type(model).__name__ == "ChatBedrockConverse" else ""
    return bool(_CACHING_MODELS.search(model_id)), bool(_TOOL_CACHING_MODELS.search(model_id))


def system_prompt(model: BaseChatModel, prompt: str) -> SystemMessage:
    """The system message of `prompt`, ending in a cache point where the model caches prompts."""
    if caches_prompts(model)[0]:
        return SystemMessage(content=[{"type": "text", "text": prompt}, CACHE_POINT])
    return SystemMessage(prompt)


def bind_tools(model: BaseChatModel, tools: Sequence[BaseTool]) -> Runnable[LanguageModelInput, Any]:
    """`model` with `tools` bound, the definitions followed by a cache point where the model caches them."""
    if caches_prompts(model)[1]:
        return model.bind_tools([*tools, CACHE_POINT])
    return model.bind_tools(tools)

"""Deterministic reading of customer text: intent, order number, new address (offline model and fallback routing)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from smart_support.agent.nodes import Specialist

Intent = Literal[
    "escalate", "recall", "cancel", "refund", "change_address", "track", "status", "faq", "greeting", "unknown"
]

ORDER_INTENTS: frozenset[Intent] = frozenset({"cancel", "refund", "change_address", "track", "status"})

ROUTES: dict[Intent, Specialist] = {
    "escalate": "escalation",
    "recall": "knowledge",
    "cancel": "order_actions",
    "refund": "order_actions",
    "change_address": "order_actions",
    "track": "order_status",
    "status": "order_status",
    "faq": "knowledge",
    "greeting": "knowledge",
    "unknown": "knowledge",
}

_I = re.IGNORECASE
_ESCALATE = re.compile(
    r"\b(human|real person|live (agent|person|chat)|representative|escalate)\b"
    r"|\b(talk|speak|chat|connect me|transfer me)\b.*\b(person|someone|somebody|agent|manager|supervisor|support)\b",
    _I,
)
_RECALL = re.compile(
    r"\b(what|which)\b[^?]*\b(did|have|had) (i|we)\b[^?]*\b(ask|asked|say|said|discuss|discussed|talk|talked|"
    r"mention|mentioned)\b|\bremind me (of )?what\b|\bfirst (thing|question|request)\b|\bfirst order (i|we)\b",
    _I,
)
_POLICY_QUESTION = re.compile(
    r"\b(policy|policies|warranty|guarantee|how (do|does|long|can)|what (is|are) your|do you (accept|offer|ship))\b",
    _I,
)
_CANCEL = re.compile(r"\bcancel", _I)
_RETURN = re.compile(r"\b(return|send back)", _I)
_REFUND = re.compile(r"\b(refund|money back|reimburse)", _I)
_ADDRESS = re.compile(
    r"\b(change|update|correct|wrong|new|different|fix)\b.*\baddress\b|\baddress\b.*\bto\b"
    r"|\b(ship|send|deliver) (it|order\s*#?\s*\d+|my order) to\b",
    _I,
)
_TRACK = re.compile(
    r"\b(track|tracking|arrive|arrival|eta|on its way|where('?s| is) (my|it|the|order)|when will|delivery date"
    r"|shipped yet|be delivered)\b",
    _I,
)
_STATUS = re.compile(r"\b(status|what('?s| is) (happening|going on) with|check (on )?(my )?order)\b", _I)
_FAQ = re.compile(
    r"\b(return|returns|returning|exchange|shipping|ship internationally|international|payment|pay|paypal|"
    r"credit card|card|warranty|guarantee|policy|policies|how long|delivery times?)\b",
    _I,
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening)|greetings|thanks|thank you)\b", _I
)

_EXPLICIT_ORDER = re.compile(r"\border\s*(?:number|no\.?|id|#)?\s*[:#]?\s*(\d{3,10})\b|#\s*(\d{3,10})\b", _I)
_BARE_ORDER = re.compile(r"(?<![\w.-])(\d{4})(?![\w.-])")
_ADDRESS_AFTER = re.compile(
    r"\baddress\b(?:\s+(?:of|for|on)\s+(?:my\s+)?(?:order\s*)?#?\s*\d+)?\s+to\s*:?\s*(?P<address>.+)$"
    r"|\b(?:ship|send|deliver)\s+(?:it|my order|order\s*#?\s*\d+)\s+to\s*:?\s*(?P<address2>.+)$",
    _I | re.DOTALL,
)


def detect_intent(text: str) -> Intent:
    """The customer's intent in one message (first match wins, most specific first)."""
    has_order = order_id_in(text) is not None
    if _ESCALATE.search(text):
        return "escalate"
    if _RECALL.search(text):
        return "recall"
    if _POLICY_QUESTION.search(text) and not has_order:
        return "faq"
    if _CANCEL.search(text):
        return "cancel"
    if _REFUND.search(text) or (has_order and _RETURN.search(text)):
        return "refund"
    if _ADDRESS.search(text):
        return "change_address"
    if _TRACK.search(text):
        return "track"
    if _STATUS.search(text) or has_order:
        return "status"
    if _FAQ.search(text):
        return "faq"
    if _GREETING.search(text) and len(text.split()) <= 8:
        return "greeting"
    return "unknown"


def order_id_in(text: str) -> str | None:
    """The order number named in `text` ("order 1042", "#1042" or a bare 4-digit number), if any."""
    address = address_in(text)
    if address:
        text = text.replace(address, " ")
    if match := _EXPLICIT_ORDER.search(text):
        return match.group(1) or match.group(2)
    if match := _BARE_ORDER.search(text):
        return match.group(1)
    return None


def address_in(text: str) -> str | None:
    """The new shipping address in "change the address of order 1043 to <address>", if any."""
    match = _ADDRESS_AFTER.search(text)
    if not match:
        return None
    address = (match.group("address") or match.group("address2") or "").strip().rstrip(".!?").strip()
    return address or None


def looks_like_address(text: str) -> bool:
    """A street address given on its own (a number and a comma), as an answer to "what is the new address?"."""
    return bool(re.search(r"\d", text)) and "," in text and len(text) >= 10


def human_texts(messages: Sequence[BaseMessage]) -> list[str]:
    """The text of every customer message, oldest first."""
    return [message.text for message in messages if isinstance(message, HumanMessage)]


def turn_intent(messages: Sequence[BaseMessage]) -> Intent:
    """The intent of the latest customer message, inheriting the previous one for a bare answer ("1043")."""
    texts = human_texts(messages)
    if not texts:
        return "unknown"
    intent = detect_intent(texts[-1])
    if intent not in ("unknown", "status") or len(texts) < 2:
        return intent
    previous = detect_intent(texts[-2])
    asked_back = "?" in _last_ai_text(messages)
    if previous in ORDER_INTENTS and asked_back and (intent == "status" or looks_like_address(texts[-1])):
        return previous
    return intent


def order_id_in_conversation(messages: Sequence[BaseMessage]) -> str | None:
    """The order the conversation is about: the latest one the customer or an operator named, or a tool call used."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and (order_id := order_id_in(message.text)):
            return order_id
        if isinstance(message, AIMessage):
            if message.name == "operator" and (order_id := order_id_in(message.text)):
                return order_id  # a human operator who held the thread named it
            for call in reversed(message.tool_calls):
                if order_id := call["args"].get("order_id"):
                    return str(order_id)
    return None


def route_for(messages: Sequence[BaseMessage]) -> Specialist:
    """The specialist for the latest customer message (deterministic keyword routing)."""
    return ROUTES[turn_intent(messages)]


def _last_ai_text(messages: Sequence[BaseMessage]) -> str:
    """The assistant's last words before the latest customer message."""
    humans = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    for message in reversed(messages[: humans[-1]] if humans else messages):
        if isinstance(message, AIMessage) and message.text:
            return message.text
    return ""

"""Deterministic reading of customer text."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from smart_support.agent.intents import (
    address_in,
    detect_intent,
    order_id_in,
    order_id_in_conversation,
    route_for,
    turn_intent,
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("What is the status of order 1042?", "status"),
        ("order 1043", "status"),
        ("When will it arrive?", "track"),
        ("can you track it?", "track"),
        ("Where is my order?", "track"),
        ("Please cancel order 1043", "cancel"),
        ("I'd like a refund for order 1045", "refund"),
        ("I want to return order 1044", "refund"),
        ("Change the shipping address of order 1043 to 1 Main St, Boston, MA 02108", "change_address"),
        ("Send order 1043 to 1 Main St, Boston, MA 02108", "change_address"),
        ("What is your return policy?", "faq"),
        ("How long does shipping take?", "faq"),
        ("Do you accept PayPal?", "faq"),
        ("What does the warranty cover?", "faq"),
        ("I want to talk to a human", "escalate"),
        ("Can I speak to someone please?", "escalate"),
        ("Hello!", "greeting"),
        ("Thanks a lot", "greeting"),
        ("Can you recommend a good movie?", "unknown"),
    ],
)
def test_detect_intent(text, intent):
    # Given a customer message
    # When its intent is detected
    # Then it is the expected one
    assert detect_intent(text) == intent


@pytest.mark.parametrize(
    ("text", "order_id"),
    [
        ("What is the status of order 1042?", "1042"),
        ("order #1043 please", "1043"),
        ("is 1044 delivered", "1044"),
        ("Change the address of order 1043 to 1234 Elm St, Austin, TX 78701", "1043"),
        ("When will it arrive?", None),
        ("tracking 1Z999AA10123456784", None),
    ],
)
def test_order_id_in(text, order_id):
    # Given a message
    # When the order number is read
    # Then street numbers, ZIP codes and tracking numbers are not mistaken for it
    assert order_id_in(text) == order_id


def test_address_in_reads_the_new_address():
    # Given an address change request
    text = "Please change the shipping address of order 1043 to 12 Oak Street, Springfield, IL 62704."

    # When the address is read
    # Then it is everything after "to", without the final period
    assert address_in(text) == "12 Oak Street, Springfield, IL 62704"
    assert address_in("What is your shipping policy?") is None


def test_order_from_the_conversation_prefers_the_latest_mention():
    # Given a conversation that moved from 1042 to 1043
    messages = [
        HumanMessage("status of 1042?"),
        AIMessage("", tool_calls=[{"name": "get_order_status", "args": {"order_id": "1042"}, "id": "a"}]),
        ToolMessage("{}", tool_call_id="a"),
        AIMessage("Order 1042 has shipped."),
        HumanMessage("and order 1043?"),
        HumanMessage("when will it arrive?"),
    ]

    # When the order of the conversation is looked up
    # Then it is the latest one mentioned
    assert order_id_in_conversation(messages) == "1043"
    assert order_id_in_conversation([HumanMessage("when will it arrive?")]) is None


def test_a_bare_order_number_continues_the_previous_request():
    # Given the agent asked which order to cancel
    messages = [
        HumanMessage("please cancel my order"),
        AIMessage("Which order do you mean? Please tell me the order number."),
        HumanMessage("1043"),
    ]

    # When the intent of the turn is read
    # Then it is still a cancellation, handled by order_actions
    assert turn_intent(messages) == "cancel"
    assert route_for(messages) == "order_actions"


def test_a_bare_order_number_alone_is_a_status_question():
    # Given no earlier request
    # When the customer only sends a number
    # Then it is a status question
    assert turn_intent([HumanMessage("1042")]) == "status"

"""What the model sees: the current turn whole, the latest earlier turns within the budget, the summary."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from smart_support.agent.context import ContextWindow, summary_of

SYSTEM = SystemMessage("prompt")


def turns(count: int, words: int = 5) -> list[BaseMessage]:
    """`count` finished turns: a question, a tool call and its result, an answer."""
    messages: list[BaseMessage] = []
    for n in range(count):
        messages += [
            HumanMessage(f"question {n} " + "word " * words),
            AIMessage("", tool_calls=[{"name": "get_order_status", "args": {"order_id": "1042"}, "id": f"c{n}"}]),
            ToolMessage('{"status": "shipped"}', tool_call_id=f"c{n}"),
            AIMessage(f"answer {n}"),
        ]
    return messages


def questions(messages: list[BaseMessage]) -> list[str]:
    return [m.text.split()[1] for m in messages if isinstance(m, HumanMessage) and m.text.startswith("question")]


def test_the_model_sees_the_current_turn_and_at_most_context_turns_earlier_ones():
    # Given 10 finished turns and a new question
    messages = [*turns(10), HumanMessage("question now")]

    # When a specialist's input is built with the default window and a summary
    sent = ContextWindow().model_input(SYSTEM, "Order being discussed: 1042", messages)

    # Then: the prompt, the summary, the last 4 whole turns and the new question
    assert sent[0] is SYSTEM
    assert summary_of(sent) == "Order being discussed: 1042"
    assert questions(sent) == ["6", "7", "8", "9", "now"]
    assert sent[2] is messages[24]  # turns start at their question: no tool result without its call


def test_large_turns_are_dropped_to_fit_the_token_budget_but_the_current_turn_never_is():
    # Given earlier turns of about 1,000 tokens each and a current message of about 3,750 tokens
    messages = [*turns(4, words=800), HumanMessage("question now " + "word " * 3000)]

    # When the input is built
    sent = ContextWindow(tokens=6000).model_input(SYSTEM, "", messages)

    # Then only what fits next to the current turn is sent, and the current turn is sent whole
    assert questions(sent) == ["2", "3", "now"]
    assert sent[-1] is messages[-1]


def test_fold_returns_whole_turns_the_next_window_would_not_show():
    # Given 6 finished turns
    messages = turns(6)

    # When the end of the turn decides what to fold
    folded = ContextWindow(turns=4).fold(messages)

    # Then the 2 oldest turns go to the summary, and nothing while the window holds everything
    assert folded == messages[:8]
    assert ContextWindow(turns=4).fold(turns(4)) == []


def test_messages_queued_behind_a_turn_are_one_turn():
    # Given 4 finished turns and a turn made of three queued messages
    queued = [HumanMessage("question a"), HumanMessage("question b"), HumanMessage("question c")]
    messages = [*turns(4), *queued, AIMessage("answer")]

    # When the input is built and the window folded
    sent = ContextWindow(turns=2).model_input(SYSTEM, "", [*turns(4), *queued])
    folded = ContextWindow(turns=2).fold(messages)

    # Then the queued messages stay together: all of them are the current turn, and they fold as one turn
    assert questions(sent) == ["2", "3", "a", "b", "c"]
    assert folded == messages[:12]


def test_an_operator_exchange_reaches_the_model_whole_with_the_next_question():
    # Given 4 finished turns, then 6 messages a customer and an operator exchanged, then the next question
    exchange: list[BaseMessage] = []
    for n in range(3):
        exchange += [HumanMessage(f"question op{n}"), AIMessage(f"Support agent Ann: reply {n}", name="operator")]
    messages = [*turns(4), *exchange, HumanMessage("question now")]

    # When the input is built with a window of one earlier turn
    sent = ContextWindow(turns=1).model_input(SYSTEM, "", messages)

    # Then the whole exchange is part of the current turn, after the one earlier turn the window holds
    assert questions(sent) == ["3", "op0", "op1", "op2", "now"]

"""Citations come from what the help-center search returned, and only safe links pass."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from smart_support.agent.citations import citations_in, turn_citations
from smart_support.protocol.events import message_complete_event


def search_result(*articles: dict, call_id: str = "c1", name: str = "search_faq") -> ToolMessage:
    return ToolMessage(json.dumps({"query": "q", "articles": list(articles)}), tool_call_id=call_id, name=name)


def article(title: str, url: str) -> dict:
    return {"title": title, "url": url, "passage": "..."}


def test_only_http_links_of_search_results_become_citations_each_once():
    messages = [
        search_result(
            article("Returns", "https://help.test/returns"),
            article("Evil", "javascript:alert(1)"),
            article("Data", "data:text/html,<script>x</script>"),
            article("Relative", "/articles/x"),
            article("Spaces", "https://help.test/a b"),
            article("", "https://help.test/untitled"),
            article("Returns again", "https://help.test/returns"),
        ),
        search_result(article("Shipping", "http://help.test/shipping"), call_id="c2"),
        # another tool's result, and a customer's or the model's text with a link, are never citations
        ToolMessage(json.dumps({"articles": [article("X", "https://x.test")]}), tool_call_id="c3", name="get_order"),
        HumanMessage("see https://phish.test"),
        AIMessage("Read https://made-up.test"),
        ToolMessage("not json", tool_call_id="c4", name="search_faq"),
    ]
    assert citations_in(messages) == [
        {"title": "Returns", "url": "https://help.test/returns"},
        {"title": "Shipping", "url": "http://help.test/shipping"},
    ]


def test_only_the_latest_turn_is_cited():
    messages = [
        HumanMessage("Do you accept PayPal?"),
        search_result(article("Payment", "https://help.test/payment")),
        AIMessage("Yes."),
        HumanMessage("Status of 1042?"),
        AIMessage("Shipped."),
    ]
    assert turn_citations(messages) == []
    assert turn_citations(messages[:3]) == [{"title": "Payment", "url": "https://help.test/payment"}]


def test_message_complete_has_citations_only_when_there_are_some():
    cited = [{"title": "Payment", "url": "https://help.test/payment"}]
    assert message_complete_event("t", 2, citations=cited) == {
        "type": "message_complete",
        "thread_id": "t",
        "turn": 2,
        "citations": cited,
    }
    assert "citations" not in message_complete_event("t", 2, citations=[])

"""Citations in the web chat: the articles an answer used, as safe links under it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_chat, screenshot, send

pytestmark = pytest.mark.browser


def test_a_help_center_answer_shows_its_sources_as_safe_links(browser_stack, new_page):
    # Given a customer on the chat
    page = open_chat(new_page(), browser_stack)

    # When they ask a question the help center answers
    send(page, "Do you accept PayPal?")

    # Then the answer is followed by its source, a link that opens in a new tab without opener or referrer
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("PayPal")
    link = page.get_by_test_id("citations").last.get_by_test_id("citation")
    expect(link).to_have_count(1)
    expect(link).to_have_text("Payment methods")
    expect(link).to_have_attribute("href", "https://help.example-store.com/articles/payment-methods")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    screenshot(page, "chat-citations")

    # And an answer that used no article shows none
    send(page, "What is the status of order 1042?")
    expect(page.get_by_test_id("msg-assistant")).to_have_count(2)
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("citations")).to_have_count(1)


def test_citations_draw_only_http_links_and_titles_as_text(browser_stack, new_page):
    # Given the chat's citations module, in the page
    page = open_chat(new_page(), browser_stack)

    # When it is handed hostile citations
    html, links = page.evaluate(
        """async () => {
          const { citationsNode } = await import("/static/chat/citations.js");
          const node = citationsNode([
            { title: "Returns", url: "https://help.example-store.com/articles/returns-policy" },
            { title: "Script", url: "javascript:alert(1)" },
            { title: "Data", url: "data:text/html,<script>alert(1)</script>" },
            { title: "Relative", url: "/articles/x" },
            { title: "<img src=x onerror=alert(1)>", url: "http://help.example-store.com/a" },
            { title: "Again", url: "https://help.example-store.com/articles/returns-policy" },
            { title: "", url: "https://help.example-store.com/untitled" },
            null, 7, { url: 42 },
          ]);
          return [node.innerHTML, [...node.querySelectorAll("a")].map((a) => [a.textContent, a.href])];
        }"""
    )

    # Then only the http(s) ones are links, each once, and a title is never markup
    assert links == [
        ["Returns", "https://help.example-store.com/articles/returns-policy"],
        ["<img src=x onerror=alert(1)>", "http://help.example-store.com/a"],
    ]
    assert "<img" not in html.replace("&lt;img", "")
    assert (
        page.evaluate(
            """async () => (await import("/static/chat/citations.js")).citationsNode([{title: "x", url: "ftp://a"}])"""
        )
        is None
    )

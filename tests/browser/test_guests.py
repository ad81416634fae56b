"""Guests in a real browser: each browser its own customer, kept across reloads, the demo orders its own."""

from __future__ import annotations

import jwt
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import open_chat, open_thread_id, send
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.browser


def guest_of(page: Page, stack: Stack) -> str:
    """Whom the page talks as: its guest token (verified with the stack's secret), the one its socket carries."""
    token = page.evaluate("localStorage.getItem('smart-support.guest-token')")
    assert token and page.evaluate("window.__sockets.at(-1).url").endswith(f"?token={token}")
    return str(jwt.decode(token, stack.secret, algorithms=["HS256"])["sub"])


def test_each_browser_is_a_guest_of_its_own_with_its_own_threads(browser_stack, new_page):
    # Given a browser without a token opening the chat
    first = open_chat(new_page(), browser_stack)

    # Then it talks as a guest customer of its own, and says so
    first_guest = guest_of(first, browser_stack)
    assert first_guest.startswith("guest-")
    expect(first.get_by_test_id("signed-in-as")).to_have_text("Guest")

    # When it asks the chat's first suggestion, the demo order is its own
    send(first, "What is the status of order 1042?")
    answer = first.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("shipped")
    thread_id = open_thread_id(first)

    # And after a reload it is the same guest, with its conversation
    first.reload()
    expect(first.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    assert guest_of(first, browser_stack) == first_guest
    expect(first.locator(f"[data-testid=thread-item][data-thread-id='{thread_id}']")).to_have_count(1)

    # When another browser opens the chat
    second = open_chat(new_page(), browser_stack)

    # Then it is another guest, who does not see the first one's conversation, and has the demo orders too
    assert guest_of(second, browser_stack) not in (first_guest, "demo-customer")
    expect(second.locator("body")).to_have_attribute("data-ready", "true")  # its conversations are listed
    expect(second.locator(f"[data-testid=thread-item][data-thread-id='{thread_id}']")).to_have_count(0)
    send(second, "What is the status of order 1042?")
    expect(second.get_by_test_id("msg-assistant").last).to_contain_text("shipped")
    expect(second.locator(f"[data-testid=thread-item][data-thread-id='{thread_id}']")).to_have_count(0)

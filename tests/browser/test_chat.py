"""The customer web chat in a real browser: streaming, approvals, replay, phone width, sign-in errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, open_chat, open_thread_id, screenshot, send

pytestmark = pytest.mark.browser


def test_customer_asks_about_1042_and_sees_the_streamed_answer(browser_stack, new_page):
    # Given a customer on the chat page
    page = open_chat(new_page(), browser_stack)
    expect(page.get_by_test_id("empty-state")).to_be_visible()

    # When they ask about order 1042
    send(page, "What is the status of order 1042?")

    # Then their message shows at once, the lookup shows as a chip, and the answer streams in, labelled by agent
    expect(page.get_by_test_id("msg-user").get_by_test_id("msg-text")).to_have_text("What is the status of order 1042?")
    expect(page.locator("[data-testid=tool-chip][data-tool=get_order_status]")).to_contain_text("order 1042")
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("shipped")
    expect(answer).to_contain_text("1Z999AA10123456784")
    expect(answer.get_by_test_id("agent-label")).to_have_text("Order status")
    assert int(answer.get_attribute("data-chunks") or 0) > 1, "the answer arrived in one piece, not streamed"
    expect(page.get_by_test_id("composer-input")).to_be_focused()
    expect(page.get_by_test_id("thread-title")).to_have_text("What is the status of order 1042?")

    # When they ask a follow-up, the context carries over
    send(page, "When will it arrive?")
    expect(page.get_by_test_id("msg-assistant")).to_have_count(2)
    follow_up = page.get_by_test_id("msg-assistant").nth(1)
    expect(follow_up).to_have_attribute("data-state", "done")
    expect(follow_up).to_contain_text("2026-11-28")
    thread_id = open_thread_id(page)
    expect(page.locator(f"[data-testid=thread-item][data-thread-id='{thread_id}']")).to_contain_text("order 1042")
    screenshot(page, "chat-1042-streamed")

    # When the page is reloaded, the conversation is replayed from the server
    page.reload()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("msg-user")).to_have_count(2)
    expect(page.locator("[data-testid=msg-assistant][data-replayed=true]")).to_have_count(2)
    expect(page.get_by_test_id("msg-assistant").first).to_contain_text("shipped")
    assert open_thread_id(page) == thread_id


def test_customer_cancels_1043_by_approving_in_the_chat(browser_stack, new_page):
    # Given a customer in a new conversation
    page = open_chat(new_page(), browser_stack)
    page.get_by_test_id("new-thread").click()

    # When they ask to cancel order 1043
    send(page, "Please cancel order 1043")

    # Then an approval card explains what will happen, with a countdown, and takes the keyboard focus
    card = page.get_by_test_id("approval-card")
    expect(card).to_have_attribute("data-state", "pending")
    expect(card.get_by_test_id("approval-description")).to_contain_text("Cancel order 1043")
    expect(card.get_by_test_id("approval-args")).to_contain_text("Cancel an order")
    expect(card.get_by_test_id("approval-args")).to_contain_text("1043")
    expect(card.get_by_test_id("approval-countdown")).to_have_text(re.compile(r"Expires in \d+:\d\d"))
    expect(card.get_by_test_id("approve-button")).to_be_focused()
    expect(page.get_by_test_id("thread-status")).to_have_text("Needs your approval")
    expect(page.get_by_test_id("send-button")).to_be_disabled()
    screenshot(page, "chat-1043-approval-card")

    # When they approve
    card.get_by_test_id("approve-button").click()

    # Then the card says who approved it and the agent confirms the cancellation
    expect(card).to_have_attribute("data-state", "approved")
    expect(card.get_by_test_id("approval-result")).to_contain_text("Approved by you")
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("cancelled")
    expect(answer).to_have_attribute("data-agent", "order_actions")
    expect(page.get_by_test_id("thread-status")).to_be_hidden()
    expect(page.get_by_test_id("composer-input")).to_be_focused()
    screenshot(page, "chat-1043-cancelled")

    # When they try again, the agent explains the order can no longer be cancelled (nothing to approve)
    send(page, "Please cancel order 1043")
    expect(page.get_by_test_id("msg-assistant")).to_have_count(2)
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("approval-card")).to_have_count(1)


def test_chat_works_at_phone_width(browser_stack, new_page):
    # Given a customer on a phone
    page = open_chat(new_page(viewport=PHONE), browser_stack)
    sidebar = page.locator("#sidebar")
    expect(sidebar).not_to_be_in_viewport()

    # When they ask a question
    send(page, "How do returns work?")

    # Then the answer fits the screen
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    screenshot(page, "chat-phone")

    # And the conversation list opens from the menu and closes with Escape
    page.get_by_role("button", name="Conversations").click()
    expect(sidebar).to_be_in_viewport()
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().left >= 0")  # slid in
    expect(page.get_by_test_id("thread-item").first).to_contain_text("How do returns work?")
    screenshot(page, "chat-phone-menu")
    page.keyboard.press("Escape")
    expect(sidebar).not_to_be_in_viewport()


def test_a_rejected_token_asks_for_a_new_one(browser_stack, new_page):
    # Given a chat link with a token the server refuses
    page = new_page()
    page.goto(f"{browser_stack.base}/?token=not-a-valid-token")

    # Then the chat says so instead of retrying forever, and the token left the address bar
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "unauthorized")
    expect(page.get_by_test_id("banner")).to_contain_text("token was rejected")
    assert "token=" not in page.url
    screenshot(page, "chat-token-rejected")

    # When the customer pastes a valid token
    page.get_by_test_id("banner-signin").click()
    page.get_by_test_id("token-input").fill(browser_stack.token("c-2001"))
    page.get_by_test_id("token-save").click()

    # Then the chat connects as that customer
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("account-name")).to_have_text("c-2001")
    expect(page.get_by_test_id("banner")).to_be_hidden()
    send(page, "What is the status of order 2001?")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("msg-assistant").last).to_contain_text("2001")

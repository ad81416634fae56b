"""The operator console's layout (issue 29): the approval queue fits a laptop, the inbox comes first on a phone, and
in a conversation the operator's own messages are on the right, the customer's on the left."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    PHONE,
    open_chat,
    open_console,
    open_thread_id,
    screenshot,
    send,
    sideways_overflow,
)
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.browser

LONG_REFUND = (
    "I want a refund for order 1044: the blender stopped working after two days, the lid cracked the first time I "
    "opened it and the motor smells of burning plastic whenever it runs"
)


def ask_for_a_person(page: Page, stack: Stack, customer: str) -> str:
    """A customer of their own (their own tickets) asks for a person; returns the conversation's id."""
    open_chat(page, stack, f"?token={stack.token(customer)}")
    send(page, "I want to talk to a human please")
    expect(page.get_by_test_id("thread-status")).to_have_text("Waiting for a person")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    return open_thread_id(page)


def lines_of(block: Locator) -> float:
    """How many lines of text a block element takes."""
    return float(
        block.evaluate("el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)")
    )


def center_x(element: Locator) -> float:
    box = element.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2


def test_the_approval_queue_fits_a_laptop_screen(browser_stack, new_page):
    # Given a refund request whose reason is long
    customer = open_chat(new_page(), browser_stack)
    send(customer, LONG_REFUND)
    expect(customer.get_by_test_id("approval-card")).to_have_attribute("data-state", "pending")
    thread_id = open_thread_id(customer)

    # When an operator opens the approval queue at 1280 px, then at 1600 px
    console = open_console(new_page(), browser_stack)
    console.get_by_test_id("tab-approvals").click()
    row = console.locator(f"[data-testid=approval-row][data-thread-id='{thread_id}']")
    expect(row).to_contain_text("the blender stopped working")
    for width in (1280, 1600):
        console.set_viewport_size({"width": width, "height": 800})
        screenshot(console, f"console-approvals-{width}")

        # Then nothing sticks out sideways, the reason wraps, and Approve and Reject are on screen
        assert sideways_overflow(console) == 0, f"the console scrolls sideways at {width} px"
        table = console.get_by_test_id("approvals-table").bounding_box()
        assert table and table["x"] + table["width"] <= width
        reason = row.locator(".kv dd", has_text="the blender stopped working")
        assert lines_of(reason) >= 2, f"the reason does not wrap at {width} px"
        for button in ("approval-approve", "approval-reject"):
            row.get_by_test_id(button).scroll_into_view_if_needed()
            expect(row.get_by_test_id(button)).to_be_in_viewport(ratio=1)

    # (The customer rejects the request: other tests expect an empty queue.)
    customer.get_by_test_id("reject-button").click()
    expect(row).to_have_count(0)


def test_on_a_phone_the_inbox_comes_before_the_analytics(browser_stack, new_page):
    # Given a customer waiting for a person
    thread_id = ask_for_a_person(new_page(), browser_stack, "c-29-phone")

    # When an operator opens the console on a phone
    console = open_console(new_page(PHONE), browser_stack)
    request = console.locator(f"[data-testid=inbox-row][data-thread-id='{thread_id}']")
    expect(request).to_contain_text("Asked for a person")
    screenshot(console, "console-inbox-first-phone")

    # Then the inbox (oldest first) is on the first screen, above the analytics, and nothing sticks out sideways
    box = console.get_by_test_id("inbox-row").first.bounding_box()
    assert box and box["y"] < PHONE["height"], f"the inbox starts {box and box['y']:.0f} px down, below the fold"
    analytics = console.get_by_test_id("analytics").bounding_box()
    tabs = console.get_by_test_id("tab-inbox").bounding_box()
    assert analytics and tabs and tabs["y"] < analytics["y"], "the analytics come before the inbox"
    assert sideways_overflow(console) == 0


def test_the_operator_sees_their_own_messages_on_the_right(browser_stack, new_page):
    # Given an operator who joined a customer's conversation, and wrote after the customer
    customer = new_page()
    thread_id = ask_for_a_person(customer, browser_stack, "c-29-sides")
    console = open_console(new_page(), browser_stack, "op-29", name="Robin")
    console.locator(f"[data-testid=inbox-row][data-thread-id='{thread_id}']").get_by_test_id("inbox-open").click()
    console.get_by_test_id("join-button").click()
    expect(customer.get_by_test_id("thread-status")).to_have_text("With Robin")
    send(customer, "My parcel never came")
    panel = console.get_by_test_id("transcript-panel")
    expect(panel.get_by_test_id("msg-user").last).to_contain_text("My parcel never came")
    box = console.get_by_test_id("operator-input")
    box.fill("I'm sorry to hear that, let me check.")
    box.press("Enter")
    expect(panel.get_by_test_id("msg-operator")).to_have_count(1)
    screenshot(console, "console-conversation-sides")

    # Then in the console the customer is on the left and the operator on the right
    middle = center_x(panel)
    theirs = panel.get_by_test_id("msg-user").last.locator(".bubble")
    mine = panel.get_by_test_id("msg-operator").last.locator(".bubble")
    assert center_x(theirs) < middle < center_x(mine), "the operator's own message is not on the right"

    # And in the customer's chat it is the other way round: their own message on the right
    expect(customer.get_by_test_id("msg-operator")).to_have_count(1)
    chat = customer.locator("#transcript-host")
    own = customer.get_by_test_id("msg-user").last.locator(".bubble")
    agent = customer.get_by_test_id("msg-operator").last.locator(".bubble")
    assert center_x(agent) < center_x(chat) < center_x(own)

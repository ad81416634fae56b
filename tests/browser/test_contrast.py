"""Every text on the chat and the console reads at 4.5:1 or more against what is behind it (WCAG AA for normal text;
issue 29), in the light and the dark colour scheme, at a laptop's and a phone's width.

The check runs in the page: for each visible element with text of its own (and each placeholder and generated
`::before` / `::after` text), the text colour, faded by any opacity, over the background colours behind it.
Disabled controls are left out, as WCAG leaves them out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, SCRIPTS, open_chat, open_console, open_thread_id, screenshot, send, settle

pytestmark = pytest.mark.browser

MINIMUM = 4.5


def low_contrast_texts(page: Page) -> list[str]:
    found: list[str] = page.evaluate((SCRIPTS / "low_contrast_texts.js").read_text(), MINIMUM)
    return found


def assert_readable(page: Page, name: str) -> None:
    """Every text on the page reads at 4.5:1 or more, in the light and then the dark colour scheme."""
    problems: dict[str, Any] = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # no colour transitions midway
        settle(page)
        found = low_contrast_texts(page)
        if found:
            problems[scheme] = found
            screenshot(page, f"contrast-{name}-{scheme}")
    page.emulate_media(color_scheme="light")
    assert not problems, f"texts below {MINIMUM}:1 on {name}: {problems}"


def test_every_text_of_the_chat_reads_at_4_5_to_1(browser_stack, new_page):
    # Given a conversation with an answer, tool chips, times and an approval waiting
    page = open_chat(new_page(), browser_stack)
    assert_readable(page, "chat-empty")
    send(page, "What is the status of order 1042?")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    send(page, "I want a refund for order 1044, it stopped working")
    expect(page.get_by_test_id("approval-card")).to_have_attribute("data-state", "pending")

    # Then every text on it reads at 4.5:1 or more, before and after the decision
    assert_readable(page, "chat-conversation")
    page.get_by_test_id("reject-button").click()
    expect(page.get_by_test_id("approval-card")).to_have_attribute("data-state", "rejected")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    assert_readable(page, "chat-decided")

    # And on a phone, the conversation list included
    # (the same customer: the phone is handed this browser's guest token, as a second tab would find it)
    guest = page.evaluate("localStorage.getItem('smart-support.guest-token')")
    phone_page = new_page(PHONE)
    phone_page.context.add_init_script(f"localStorage.setItem('smart-support.guest-token', {json.dumps(guest)})")
    phone = open_chat(phone_page, browser_stack, f"#thread={open_thread_id(page)}")
    expect(phone.get_by_test_id("approval-card")).to_have_attribute("data-state", "rejected")
    assert_readable(phone, "chat-phone")
    phone.get_by_role("button", name="Conversations").click()
    phone.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().left >= 0")
    assert_readable(phone, "chat-phone-menu")

    # And an error in the conversation
    lost = open_chat(new_page(), browser_stack, "#thread=c-unknown-contrast")
    expect(lost.get_by_test_id("chat-error")).to_be_visible()
    assert_readable(lost, "chat-error")


def test_every_text_of_the_console_reads_at_4_5_to_1(browser_stack, new_page):
    # Given a customer waiting for a person, and one waiting for an approval
    customer = open_chat(new_page(), browser_stack, f"?token={browser_stack.token('c-29-contrast')}")
    send(customer, "Talk to a human")
    expect(customer.get_by_test_id("thread-status")).to_have_text("Waiting for a person")
    thread_id = open_thread_id(customer)
    refund = open_chat(new_page(), browser_stack)
    send(refund, "I want a refund for order 1044, it stopped working")
    expect(refund.get_by_test_id("approval-card")).to_have_attribute("data-state", "pending")

    # When an operator looks at the inbox, the approvals, the audit log and the conversation, at both widths
    for viewport, width in ((None, "desktop"), (PHONE, "phone")):
        console = open_console(new_page(viewport), browser_stack)
        request = console.locator(f"[data-testid=inbox-row][data-thread-id='{thread_id}']")
        expect(request).to_be_visible()

        # Then every text reads at 4.5:1 or more
        assert_readable(console, f"console-inbox-{width}")
        console.get_by_test_id("tab-approvals").click()
        expect(console.get_by_test_id("approval-row").first).to_be_visible()
        assert_readable(console, f"console-approvals-{width}")
        console.get_by_test_id("tab-audit").click()
        assert_readable(console, f"console-audit-{width}")
        console.get_by_test_id("tab-inbox").click()
        request.get_by_test_id("inbox-open").click()
        expect(console.get_by_test_id("drawer-live")).to_have_attribute("data-state", "on")
        assert_readable(console, f"console-conversation-{width}")

    # And once the operator joined and wrote: the hand-off lines and their message, on both sides
    console.get_by_test_id("join-button").click()
    reply = console.get_by_test_id("operator-input")
    reply.fill("Hello, I'm here to help.")
    reply.press("Enter")
    expect(customer.get_by_test_id("msg-operator")).to_have_count(1)
    expect(customer.get_by_test_id("handoff-note").last).to_have_attribute("data-state", "joined")
    assert_readable(console, "console-joined-phone")
    assert_readable(customer, "chat-with-operator")

    # (The customer rejects the refund: other tests expect an empty approval queue.)
    refund.get_by_test_id("reject-button").click()
    expect(refund.get_by_test_id("approval-card")).to_have_attribute("data-state", "rejected")

    # And the sign-in card too
    gate = new_page()
    gate.goto(f"{browser_stack.base}/console")
    expect(gate.get_by_test_id("operator-token-input")).to_be_visible()
    assert_readable(gate, "console-sign-in")

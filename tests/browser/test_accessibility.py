"""Accessibility audit (issue 29): axe-core, from npm (`make browser-deps` installs it in .browser-deps/), injected
into the chat and the console at 1280x800 and 390x844 in the states people see; no serious or critical violation.

axe is evaluated in the page through the DevTools protocol, so the pages' content security policy stays as served.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCRIPTS,
    open_chat,
    open_console,
    open_thread_id,
    screenshot,
    send,
    settle,
)
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / ".browser-deps/node_modules/axe-core/axe.min.js"
WIDTHS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "390x844"])


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE} is missing: run `make browser-deps` (npm install axe-core)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


class Audit:
    """Runs axe in pages and collects the serious and critical violations, by the state they were found in."""

    def __init__(self, source: str, viewport: ViewportSize) -> None:
        self.source = source
        self.size = f"{viewport['width']}x{viewport['height']}"
        self.found: dict[str, list[dict[str, Any]]] = {}

    def check(self, page: Page, state: str) -> None:
        settle(page)
        if not page.evaluate("Boolean(window.axe)"):
            page.evaluate(self.source)
        violations: list[dict[str, Any]] = page.evaluate((SCRIPTS / "axe_serious.js").read_text())
        if violations:
            self.found[state] = violations
            screenshot(page, f"axe-{state}-{self.size}")

    def assert_clean(self) -> None:
        assert not self.found, f"serious or critical accessibility violations at {self.size}: {self.found}"


def a_customer_waiting_for_a_decision(page: Page, stack: Stack) -> str:
    """The demo customer asked about 1042 and then for a refund of 1044, which waits for their decision."""
    open_chat(page, stack)
    send(page, "What is the status of order 1042?")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    send(page, "I want a refund for order 1044, it stopped working")
    expect(page.get_by_test_id("approval-card")).to_have_attribute("data-state", "pending")
    return open_thread_id(page)


@WIDTHS
def test_the_chat_has_no_serious_accessibility_violation(browser_stack, new_page, axe_source, viewport):
    audit = Audit(axe_source, viewport)

    # Given the chat, empty, then with an answer and an approval to decide
    page = open_chat(new_page(viewport), browser_stack)
    audit.check(page, "chat-empty")
    a_customer_waiting_for_a_decision(page, browser_stack)
    audit.check(page, "chat-approval")

    # And once decided, with the conversation list open (a drawer on a phone) and the account dialog
    page.get_by_test_id("reject-button").click()
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    expect(page.get_by_test_id("approval-card")).to_have_attribute("data-state", "rejected")
    audit.check(page, "chat-decided")
    if viewport == PHONE:
        page.get_by_role("button", name="Conversations").click()
        page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().left >= 0")
        audit.check(page, "chat-menu")
        page.keyboard.press("Escape")
    page.get_by_test_id("signed-in-as").click()
    expect(page.get_by_test_id("account-dialog")).to_be_visible()
    audit.check(page, "chat-account-dialog")

    # And a conversation that cannot be found
    lost = open_chat(new_page(viewport), browser_stack, "#thread=c-unknown-axe")
    expect(lost.get_by_test_id("chat-error")).to_be_visible()
    audit.check(lost, "chat-not-found")

    # Then axe finds no serious or critical violation
    audit.assert_clean()


@WIDTHS
def test_the_console_has_no_serious_accessibility_violation(browser_stack, new_page, axe_source, viewport):
    audit = Audit(axe_source, viewport)

    # Given the sign-in card
    gate = new_page(viewport)
    gate.goto(f"{browser_stack.base}/console")
    expect(gate.get_by_test_id("operator-token-input")).to_be_visible()
    audit.check(gate, "console-sign-in")

    # And a customer waiting for a person, another for a decision
    person = open_chat(new_page(), browser_stack, f"?token={browser_stack.token('c-29-axe')}")
    send(person, "Talk to a human")
    expect(person.get_by_test_id("thread-status")).to_have_text("Waiting for a person")
    waiting_for_a_person = open_thread_id(person)
    refund = new_page()
    a_customer_waiting_for_a_decision(refund, browser_stack)

    # When an operator looks at the inbox, the approvals, the audit log and the conversations
    console = open_console(new_page(viewport), browser_stack)
    request = console.locator(f"[data-testid=inbox-row][data-thread-id='{waiting_for_a_person}']")
    expect(request).to_be_visible()
    audit.check(console, "console-inbox")
    console.get_by_test_id("tab-approvals").click()
    expect(console.get_by_test_id("approval-row").first).to_be_visible()
    audit.check(console, "console-approvals")
    console.get_by_test_id("tab-audit").click()
    audit.check(console, "console-audit")
    console.get_by_test_id("tab-approvals").click()
    console.get_by_test_id("approval-row").first.get_by_test_id("view-thread").click()
    expect(console.get_by_test_id("transcript-pending")).to_be_visible()
    audit.check(console, "console-conversation-approval")
    console.get_by_test_id("transcript-close").click()
    console.get_by_test_id("tab-inbox").click()
    request.get_by_test_id("inbox-open").click()
    console.get_by_test_id("join-button").click()
    expect(console.get_by_test_id("operator-input")).to_be_enabled()
    audit.check(console, "console-conversation-joined")

    # (The refund is rejected: other tests expect an empty approval queue.)
    refund.get_by_test_id("reject-button").click()
    expect(refund.get_by_test_id("approval-card")).to_have_attribute("data-state", "rejected")

    # Then axe finds no serious or critical violation
    audit.assert_clean()

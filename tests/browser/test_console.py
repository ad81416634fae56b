"""The operator console in a real browser, next to a customer's chat in a second browser context."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_chat, open_thread_id, screenshot, send

pytestmark = pytest.mark.browser


def test_operator_approves_the_1045_refund_while_the_customer_watches(browser_stack, new_page):
    # Given a customer who asked for a refund over $50: only an operator may approve it
    customer = open_chat(new_page(), browser_stack)
    send(customer, "I want a refund for order 1045, the jacket is the wrong size")
    card = customer.get_by_test_id("approval-card")
    expect(card).to_have_attribute("data-state", "waiting")
    expect(card).to_contain_text("Waiting for a support agent")
    expect(card.get_by_test_id("approval-args")).to_contain_text("the jacket is the wrong size")
    expect(card.get_by_test_id("approval-waiting")).to_be_visible()
    expect(card.get_by_test_id("approve-button")).to_have_count(0)
    expect(customer.get_by_test_id("thread-status")).to_have_text("Waiting for an agent")
    thread_id = open_thread_id(customer)
    screenshot(customer, "customer-1045-waiting-for-agent")

    # And whose connection drops and comes back (the chat resumes the thread on the new connection)
    customer.evaluate("window.__sockets.at(-1).close()")
    customer.wait_for_function("() => window.__sockets.length === 2 && window.__sockets[1].readyState === 1")
    expect(customer.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    expect(customer.get_by_test_id("approval-card")).to_have_count(1)
    expect(card).to_have_attribute("data-state", "waiting")

    # When an operator opens the console and finds the request in the queue
    operator = new_page()
    operator.goto(f"{browser_stack.base}/console?token={browser_stack.token('op-1', 'operator')}")
    waiting = operator.locator(f"[data-testid=inbox-row][data-kind=approval][data-thread-id='{thread_id}']")
    expect(waiting).to_contain_text("Needs an operator")
    waiting.get_by_test_id("inbox-decide").click()
    expect(operator.get_by_test_id("tab-approvals")).to_have_attribute("aria-selected", "true")
    row = operator.locator(f"[data-testid=approval-row][data-thread-id='{thread_id}']")
    expect(row).to_contain_text("guest-")  # the customer's browser is a guest of its own
    interrupt_id = row.get_attribute("data-interrupt-id")
    expect(row).to_contain_text("Refund $129.00 for order 1045")
    expect(row).to_contain_text("Operator only")
    expect(row).to_contain_text("the jacket is the wrong size")
    row.get_by_test_id("approval-context").click()
    expect(row.get_by_test_id("approval-context")).to_contain_text("Customer: I want a refund for order 1045")
    expect(row).to_contain_text("1045")
    assert "token=" not in operator.url
    expect(operator.get_by_test_id("operator-identity")).to_have_text("op-1 · operator")

    # And reads the conversation first
    row.get_by_test_id("view-thread").click()
    panel = operator.get_by_test_id("transcript-panel")
    expect(panel.get_by_test_id("msg-user").get_by_test_id("msg-text")).to_have_text(
        "I want a refund for order 1045, the jacket is the wrong size"
    )
    expect(panel.get_by_test_id("transcript-pending")).to_contain_text("Refund $129.00 for order 1045")
    screenshot(operator, "console-transcript")
    operator.get_by_test_id("transcript-close").click()
    expect(panel).to_be_hidden()

    # And tries an amount above the order total: refused, the request stays pending
    amount = row.get_by_test_id("approval-edit-amount")
    expect(amount).to_have_value("129.00")
    amount.fill("500")
    row.get_by_test_id("approval-approve").click()
    expect(row.get_by_test_id("approval-row-status")).to_contain_text("at most the order total")

    # And approves a partial refund of $50 with a comment
    amount.fill("50")
    row.get_by_test_id("approval-comment").fill("Customer sent photos of the damage")
    screenshot(operator, "console-pending-approval")
    row.get_by_test_id("approval-approve").click()
    expect(row.get_by_test_id("approval-row-status")).to_have_text("Approved (edited)")

    # Then the customer's page updates by itself: who approved what ran, their comment, then the agent's confirmation
    expect(card).to_have_attribute("data-state", "approved")
    expect(card).to_have_attribute("data-outcome", "edited")
    expect(card.get_by_test_id("approval-result")).to_contain_text("Approved with changes by a support agent")
    expect(card.get_by_test_id("approval-description")).to_contain_text("$50.00")
    expect(card.get_by_test_id("approval-comment")).to_contain_text("Customer sent photos of the damage")
    answer = customer.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("refund")
    expect(answer).to_contain_text("$50.00")
    expect(customer.get_by_test_id("thread-status")).to_be_hidden()
    screenshot(customer, "customer-1045-approved-by-operator")

    # And the console's queue empties, while the audit log and the analytics record the decision
    expect(row).to_have_count(0)
    expect(operator.get_by_test_id("approvals-empty")).to_be_visible()
    expect(operator.locator("[data-testid=stat-approved] .split-value")).to_have_text(re.compile(r"[1-9]\d*"))
    operator.get_by_test_id("tab-audit").click()
    audit = operator.locator(f"[data-testid=audit-row][data-interrupt-id='{interrupt_id}']")
    expect(audit).to_contain_text("Approved with changes")
    expect(audit.get_by_test_id("audit-args")).to_contain_text("Amount: $50.00")
    expect(audit).to_contain_text("op-1")
    expect(audit).to_contain_text("Customer sent photos of the damage")
    screenshot(operator, "console-audit")


def test_operator_rejects_with_a_comment_the_customer_reads(browser_stack, new_page):
    # Given a customer asking for a refund of 1044
    customer = open_chat(new_page(), browser_stack)
    send(customer, "Can I get a refund for order 1044? It stopped working")
    card = customer.get_by_test_id("approval-card")
    expect(card).to_have_attribute("data-state", "pending")
    expect(card.get_by_test_id("approval-args")).to_contain_text("It stopped working")
    thread_id = open_thread_id(customer)

    # When an operator rejects it with a comment
    operator = new_page()
    operator.goto(f"{browser_stack.base}/console?token={browser_stack.token('op-3', 'operator')}")
    operator.get_by_test_id("tab-approvals").click()
    row = operator.locator(f"[data-testid=approval-row][data-thread-id='{thread_id}']")
    row.get_by_test_id("approval-comment").fill("It is under warranty: we will replace it instead.")
    row.get_by_test_id("approval-reject").click()
    expect(row.get_by_test_id("approval-row-status")).to_have_text("Rejected")

    # Then the customer's card says so and the answer quotes the comment
    expect(card).to_have_attribute("data-state", "rejected")
    answer = customer.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("It is under warranty: we will replace it instead.")


def test_console_explains_a_customer_token_is_not_enough(browser_stack, new_page):
    # Given a customer's token in the console
    page = new_page()
    page.goto(f"{browser_stack.base}/console?token={browser_stack.token('demo-customer')}")

    # Then it says why (403, operator needed) and asks for another token
    error = page.get_by_test_id("gate-error")
    expect(error).to_contain_text("operator token")
    expect(error).to_contain_text("403")
    expect(page.get_by_test_id("operator-token-input")).to_be_focused()
    expect(page.get_by_test_id("approvals-table")).to_be_hidden()
    screenshot(page, "console-customer-token-refused")

"""The approval card never lies (issue 23), in a real browser against the real local stack.

- An operator approves an operator-only refund (1045, $129.00) with a smaller amount and a comment: the customer's
  card says what ran ($64.50, "Approved with changes") and the comment, live and after a reload; the console's audit
  log and its conversation panel say the same.
- Stop while that approval waits asks "Withdraw this request?" first; "Keep waiting" sends nothing; "Withdraw" sends
  `cancel`, the card says "Withdrawn by you", the assistant answers, and the header does not stay "Answering…".

Each test has a stack of its own: both act on order 1045 of the demo customer (a refunded order cannot be refunded
again), and neither may depend on the other's order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import open_chat, open_thread_id, record_sent_frames, screenshot, send
from tests.e2e.conftest import Stack, start_stack

pytestmark = pytest.mark.browser

REFUND_1045 = "I want a refund for order 1045, it arrived broken"


@pytest.fixture
def ledger_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A fresh local stack for one test (its own demo orders), tokens paced a little as in the other browser tests."""
    yield from start_stack(tmp_path_factory, "browser-ledger", OFFLINE_TOKEN_DELAY_MS="10")


def ask_for_the_1045_refund(page: Page) -> tuple[str, str]:
    """The customer asks for the operator-only refund; returns (thread id, interrupt id) once the card waits."""
    send(page, REFUND_1045)
    card = page.get_by_test_id("approval-card")
    expect(card).to_have_attribute("data-state", "waiting")
    expect(card).to_contain_text("Waiting for a support agent")
    expect(card.get_by_test_id("approval-description")).to_contain_text("Refund $129.00")
    expect(card.get_by_test_id("approval-args")).to_contain_text("Amount")
    expect(card.get_by_test_id("approval-args")).to_contain_text("$129.00")
    expect(card.get_by_test_id("approve-button")).to_have_count(0)  # the customer may withdraw, never approve
    expect(page.get_by_test_id("thread-status")).to_have_text("Waiting for an agent")
    interrupt_id = card.get_attribute("data-interrupt-id")
    assert interrupt_id
    return open_thread_id(page), interrupt_id


def test_an_operator_edit_shows_what_ran_and_the_comment_live_and_after_a_reload(ledger_stack, new_page):
    # Given a customer waiting for an operator to approve a $129.00 refund
    customer = open_chat(new_page(), ledger_stack)
    thread_id, interrupt_id = ask_for_the_1045_refund(customer)
    card = customer.get_by_test_id("approval-card")

    # And the console shows the request in dollars, with the amount to edit pre-filled from amount_cents
    operator_token = ledger_stack.token("op-5", "operator", name="Sam")
    console = new_page()
    console.goto(f"{ledger_stack.base}/console?token={operator_token}")
    console.get_by_test_id("tab-approvals").click()
    row = console.locator(f"[data-testid=approval-row][data-interrupt-id='{interrupt_id}']")
    expect(row).to_contain_text("$129.00")
    expect(row.get_by_test_id("approval-edit-amount")).to_have_value("129.00")

    # When an operator approves $64.50 instead, with a comment, through the HTTP API
    status, body = ledger_stack.http(
        "POST",
        f"/api/v1/approvals/{interrupt_id}",
        operator_token,
        {"approved": True, "args": {"amount": 64.5}, "comment": "partial refund, item kept"},
    )
    assert status == 200, body

    # Then the customer's card says what ran, not what was asked for, and who decided, with their comment
    expect(card).to_have_attribute("data-state", "approved")
    expect(card).to_have_attribute("data-outcome", "edited")
    expect(card.get_by_test_id("approval-kicker")).to_have_text("Approved with changes")
    expect(card.get_by_test_id("approval-description")).to_contain_text("Refund $64.50")
    expect(card.get_by_test_id("approval-changes")).to_contain_text("$129.00")
    expect(card.get_by_test_id("approval-changes")).to_contain_text("$64.50")
    expect(card.get_by_test_id("approval-result")).to_contain_text("Approved with changes by a support agent")
    expect(card.get_by_test_id("approval-comment")).to_have_text("Support agent: “partial refund, item kept”")

    # And the answer is about the amount that was refunded
    answer = customer.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("$64.50")
    expect(answer).not_to_contain_text("$129.00")
    expect(customer.get_by_test_id("thread-status")).to_be_hidden()
    screenshot(customer, "ledger-edited-live")

    # When the page is reloaded, the replayed card says the same
    customer.reload()
    expect(customer.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    replayed = customer.locator(f"[data-testid=approval-card][data-interrupt-id='{interrupt_id}']")
    expect(replayed).to_have_count(1)
    expect(replayed).to_have_attribute("data-outcome", "edited")
    expect(replayed.get_by_test_id("approval-kicker")).to_have_text("Approved with changes")
    expect(replayed.get_by_test_id("approval-description")).to_contain_text("$64.50")
    expect(replayed.get_by_test_id("approval-changes")).to_contain_text("$129.00")
    expect(replayed.get_by_test_id("approval-result")).to_contain_text("Approved with changes by a support agent")
    expect(replayed.get_by_test_id("approval-comment")).to_have_text("Support agent: “partial refund, item kept”")
    expect(customer.locator("[data-testid=msg-assistant][data-replayed=true]").last).to_contain_text("$64.50")
    screenshot(customer, "ledger-edited-replayed")

    # And the console's audit log records what ran and the comment
    console.get_by_test_id("tab-audit").click()
    audit = console.locator(f"[data-testid=audit-row][data-interrupt-id='{interrupt_id}']")
    expect(audit).to_have_attribute("data-outcome", "edited")
    expect(audit.get_by_test_id("audit-description")).to_contain_text("$64.50")
    expect(audit.get_by_test_id("audit-args")).to_contain_text("Amount: $64.50")
    expect(audit).to_contain_text("Approved with changes")
    expect(audit).to_contain_text("op-5")
    expect(audit).to_contain_text("partial refund, item kept")
    screenshot(console, "ledger-edited-audit")

    # And its conversation panel shows the same card as the customer's
    audit.get_by_test_id("view-thread").click()
    panel = console.get_by_test_id("transcript-panel")
    decided = panel.locator(f"[data-testid=approval-card][data-interrupt-id='{interrupt_id}']")
    expect(decided).to_have_attribute("data-outcome", "edited")
    expect(decided.get_by_test_id("approval-description")).to_contain_text("$64.50")
    expect(decided.get_by_test_id("approval-comment")).to_contain_text("partial refund, item kept")
    expect(panel).to_have_attribute("data-thread-id", thread_id)


def test_stop_during_an_operator_only_approval_asks_before_withdrawing(ledger_stack, new_page):
    # Given a customer waiting for an operator to approve a $129.00 refund
    page = new_page()
    sent = record_sent_frames(page)
    open_chat(page, ledger_stack)
    thread_id, interrupt_id = ask_for_the_1045_refund(page)
    card = page.get_by_test_id("approval-card")
    stop = page.get_by_test_id("stop-button")
    confirm = page.get_by_test_id("withdraw-confirm")

    def cancels() -> list[dict[str, Any]]:
        return [frame for frame in sent if frame.get("type") == "cancel"]

    expect(confirm).to_be_hidden()

    # When they press Stop, the page asks first, in the page (no browser dialog), and sends nothing yet
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    stop.click()
    expect(confirm).to_be_visible()
    expect(page.get_by_role("alertdialog", name="Withdraw this request?")).to_be_visible()
    expect(confirm).to_contain_text("Refund $129.00")
    keep = page.get_by_role("button", name="Keep waiting")
    expect(keep).to_be_focused()
    assert dialogs == [], f"a browser dialog opened: {dialogs}"
    screenshot(page, "ledger-withdraw-confirm")

    # And "Keep waiting" keeps it: nothing is sent, the request still waits
    keep.click()
    expect(confirm).to_be_hidden()
    page.wait_for_timeout(1_000)
    assert cancels() == [], f"Keep waiting sent {cancels()}"
    expect(card).to_have_attribute("data-state", "waiting")
    expect(page.get_by_test_id("thread-status")).to_have_text("Waiting for an agent")
    expect(stop).to_be_visible()
    status, session = ledger_stack.http("GET", f"/api/v1/sessions/{thread_id}", ledger_stack.token("op-5", "operator"))
    assert status == 200 and session["status"] == "awaiting_approval", session

    # When they press Stop again and withdraw
    stop.click()
    expect(confirm).to_be_visible()
    page.get_by_role("button", name="Withdraw", exact=True).click()

    # Then one `cancel` goes out, the card says they withdrew it, and the assistant answers
    expect(confirm).to_be_hidden()
    expect(card).to_have_attribute("data-state", "withdrawn")
    expect(card).to_have_attribute("data-outcome", "withdrawn")
    expect(card.get_by_test_id("approval-result")).to_contain_text("Withdrawn by you")
    assert cancels() == [{"type": "cancel", "thread_id": thread_id}], cancels()
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("nothing was changed")
    expect(answer).not_to_have_attribute("data-stopped", "true")  # a whole answer, not a stopped one

    # And the header does not stay "Answering…": the chat is ready for the next message
    expect(page.get_by_test_id("thread-status")).to_be_hidden()
    expect(stop).to_be_hidden()
    page.wait_for_timeout(1_500)
    expect(page.get_by_test_id("thread-status")).to_be_hidden()
    expect(page.locator(f"[data-testid=thread-item][data-thread-id='{thread_id}']")).to_have_attribute(
        "data-status", "idle"
    )
    screenshot(page, "ledger-withdrawn")

    # And the server agrees: nothing waits, nothing was refunded
    operator_token = ledger_stack.token("op-5", "operator")
    status, session = ledger_stack.http("GET", f"/api/v1/sessions/{thread_id}", operator_token)
    assert status == 200 and session["status"] == "idle" and session["pending_interrupt"] is None, session
    status, queue = ledger_stack.http("GET", "/api/v1/approvals?status=pending", operator_token)
    assert status == 200 and interrupt_id not in [a["interrupt_id"] for a in queue["approvals"]], queue
    status, audit = ledger_stack.http("GET", "/api/v1/audit", operator_token)
    record = next(d for d in audit["decisions"] if d["interrupt_id"] == interrupt_id)
    assert record["outcome"] == "withdrawn" and record["decided_by"] == "customer", record

    # And a reload replays the same card
    page.reload()
    replayed = page.locator(f"[data-testid=approval-card][data-interrupt-id='{interrupt_id}']")
    expect(replayed).to_have_attribute("data-outcome", "withdrawn")
    expect(replayed.get_by_test_id("approval-result")).to_contain_text("Withdrawn by you")
    expect(page.get_by_test_id("msg-assistant").last).to_contain_text(re.compile("nothing was changed"))

"""Human hand-off in real browsers: a customer's chat and an operator's console (at phone width), side by side."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, open_chat, open_thread_id, screenshot, send

pytestmark = pytest.mark.browser


def fits_the_width(page: Page) -> bool:
    """Nothing sticks out sideways (no horizontal scroll)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_customer_and_an_operator_run_the_hand_off_loop(browser_stack, new_page):
    # Given a customer who asks for a person
    customer = open_chat(new_page(), browser_stack)
    send(customer, "I want to talk to a human about order 1042")
    expect(customer.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    expect(customer.get_by_test_id("msg-assistant").last).to_contain_text("handed this over to a support agent")
    expect(customer.get_by_test_id("thread-status")).to_have_text("Waiting for a person")
    thread_id = open_thread_id(customer)
    screenshot(customer, "handoff-customer-waiting")

    # When an operator on a phone signs in (pasting a token) and finds the request in the inbox
    operator = new_page(PHONE)
    operator.goto(f"{browser_stack.base}/console")
    operator.get_by_test_id("operator-token-input").fill(browser_stack.token("op-7", "operator", name="Alice"))
    operator.get_by_test_id("operator-token-save").click()
    request = operator.locator(f"[data-testid=inbox-row][data-thread-id='{thread_id}']")
    expect(request).to_contain_text("Asked for a person")
    expect(request).to_contain_text("order 1042")
    expect(request.get_by_test_id("inbox-status")).to_have_text("Open")
    expect(operator.get_by_test_id("stat-handoffs-requested")).not_to_have_text("0")
    assert fits_the_width(operator)
    screenshot(operator, "handoff-console-inbox-phone")

    # And opens the conversation: it is live, and says the customer waits for a person
    request.get_by_test_id("inbox-open").click()
    panel = operator.get_by_test_id("transcript-panel")
    expect(operator.get_by_test_id("drawer-live")).to_have_attribute("data-state", "on")
    expect(panel.get_by_test_id("msg-user").get_by_test_id("msg-text")).to_have_text(
        "I want to talk to a human about order 1042"
    )
    expect(operator.get_by_test_id("handoff-text")).to_contain_text("waiting for a person")
    expect(operator.get_by_test_id("operator-input")).to_be_disabled()

    # And joins it
    operator.get_by_test_id("join-button").click()
    expect(operator.get_by_test_id("transcript-status")).to_have_text("With Alice")
    expect(operator.get_by_test_id("operator-input")).to_be_enabled()

    # Then the customer sees that a person joined, by name
    expect(customer.get_by_test_id("thread-status")).to_have_text("With Alice")
    joined = customer.get_by_test_id("handoff-note").last
    expect(joined).to_have_attribute("data-state", "joined")
    expect(joined).to_contain_text("Alice")

    # And what the customer writes reaches the operator live, with no answer from the assistant
    answers = customer.get_by_test_id("msg-assistant").count()
    send(customer, "My order 1042 is late, can you help?")
    expect(panel.get_by_test_id("msg-user").last.get_by_test_id("msg-text")).to_have_text(
        "My order 1042 is late, can you help?"
    )
    expect(customer.get_by_test_id("typing")).to_have_count(0)

    # And the operator's reply reaches the customer, unlike the assistant's
    box = operator.get_by_test_id("operator-input")
    box.fill("Hi, I'm Alice. I looked at order 1043 too: it has not shipped yet.")
    box.press("Enter")
    reply = customer.get_by_test_id("msg-operator").last
    expect(reply).to_contain_text("I looked at order 1043 too")
    expect(reply.get_by_test_id("operator-name")).to_have_text("Alice")
    expect(reply).to_contain_text("Support agent")
    expect(customer.get_by_test_id("msg-assistant")).to_have_count(answers)
    expect(panel.get_by_test_id("msg-operator")).to_have_count(1)  # shown once, though it also came back live

    # And an internal note stays internal
    operator.get_by_test_id("ticket-panel").locator("summary").click()
    operator.get_by_test_id("note-input").fill("Customer worried about the delay")
    operator.get_by_test_id("note-add").click()
    expect(operator.get_by_test_id("ticket-note")).to_have_count(1)
    assert fits_the_width(operator)
    screenshot(operator, "handoff-console-held-phone")
    screenshot(customer, "handoff-customer-with-alice")

    # When the operator hands the conversation back
    operator.get_by_test_id("release-note").fill("Explained that 1043 ships Monday")
    operator.get_by_test_id("release-button").click()

    # Then the customer sees the person left and the assistant is back
    left = customer.get_by_test_id("handoff-note").last
    expect(left).to_have_attribute("data-state", "returned")
    expect(left).to_contain_text("Alice left the conversation")
    expect(customer.get_by_test_id("thread-status")).to_be_hidden()
    expect(customer.locator("body")).not_to_contain_text("Customer worried about the delay")

    # And the assistant answers again, knowing what the operator said ("it" is 1043)
    send(customer, "What is the status of it?")
    answer = customer.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("Order 1043 is")  # (another test may have cancelled it)
    expect(panel.get_by_test_id("msg-assistant").last).to_contain_text("Order 1043 is")  # live there too
    screenshot(customer, "handoff-customer-assistant-back")

    # And the console still fits the phone, its audit tab included
    operator.get_by_test_id("transcript-close").click()
    operator.get_by_test_id("tab-audit").click()
    tab = operator.get_by_test_id("tab-audit").bounding_box()
    assert tab and tab["x"] >= 0 and tab["x"] + tab["width"] <= PHONE["width"]
    assert fits_the_width(operator)
    screenshot(operator, "handoff-console-audit-phone")


def test_reloading_mid_answer_shows_the_question_then_the_whole_answer(browser_stack, new_page):
    # Given a customer whose answer is streaming
    page = open_chat(new_page(), browser_stack)
    send(page, "Hello! What can you do for me?")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "streaming")

    # When they reload the page
    page.reload()

    # Then the question is there (stored when the turn began), and the answer arrives whole, not just its tail
    expect(page.get_by_test_id("msg-user").get_by_test_id("msg-text")).to_have_text("Hello! What can you do for me?")
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("Hello! I'm the support assistant.")
    expect(answer).to_contain_text("What would you like to do?")
    expect(page.get_by_test_id("msg-assistant")).to_have_count(1)
    expect(page.get_by_test_id("thread-status")).to_be_hidden()

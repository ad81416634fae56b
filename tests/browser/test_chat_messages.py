"""The chat's messages (issue 29): a message sent before the chat is connected is kept and sent once; live answers
have a time like replayed ones; a link to an unknown conversation says so plainly and adds nothing; a hand-off is
said once."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import SCRIPTS, open_chat, record_sent_frames, screenshot, send

pytestmark = pytest.mark.browser


def assert_sent_once_and_answered(page: Page, sent: list[dict[str, Any]], text: str) -> None:
    """The message shows once, went to the server in one `message` frame, and is answered; the box is empty."""
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("1042")
    expect(page.get_by_test_id("msg-user")).to_have_count(1)
    expect(page.get_by_test_id("msg-user").get_by_test_id("msg-text")).to_have_text(text)
    assert [frame["content"] for frame in sent if frame.get("type") == "message"] == [text]
    expect(page.get_by_test_id("composer-input")).to_have_value("")


def test_a_message_sent_while_the_chat_connects_is_kept_and_sent_once(browser_stack, new_page):
    # Given a customer whose chat connects slowly, on a page whose scripts are running
    page = new_page()
    page.add_init_script(path=SCRIPTS / "slow_start.js")
    sent = record_sent_frames(page)
    page.goto(browser_stack.base, wait_until="commit")
    page.wait_for_function("() => document.documentElement.dataset.chat === 'wired'")

    # When they type and send a message before the chat is connected
    box = page.get_by_test_id("composer-input")
    box.fill("What is the status of order 1042?")
    box.press("Enter")
    expect(page.get_by_test_id("connection-status")).not_to_have_attribute("data-state", "open")
    expect(page.get_by_test_id("msg-sending")).to_be_visible()
    screenshot(page, "chat-sent-while-connecting")

    # Then it is kept, and sent once the chat is connected: once, and answered
    assert_sent_once_and_answered(page, sent, "What is the status of order 1042?")


def test_a_message_sent_before_the_chat_s_scripts_run_is_sent_once_they_do(browser_stack, new_page):
    # Given a customer whose chat's script is slow to arrive (held until the test lets it through)
    page = new_page()
    held: list[Route] = []

    def hold(route: Route) -> None:  # (a bound method of a list is no handler Playwright takes)
        held.append(route)

    page.route("**/static/chat.js", hold)
    sent = record_sent_frames(page)
    page.goto(browser_stack.base, wait_until="commit")

    # When they type and send a message before it has arrived
    box = page.get_by_test_id("composer-input")
    box.fill("What is the status of order 1042?")
    box.press("Enter")

    # Then Enter does not turn into a new line, and the message is sent once the script runs: once, and answered
    expect(box).to_have_value("What is the status of order 1042?")
    assert held, "the chat's script was not requested"
    held[0].continue_()
    assert_sent_once_and_answered(page, sent, "What is the status of order 1042?")


def test_live_answers_have_a_time_like_replayed_ones(browser_stack, new_page):
    # Given a customer who asked a question
    page = open_chat(new_page(), browser_stack)
    send(page, "How do returns work?")
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")

    # Then the live answer says when it was written, as their own message does
    clock = re.compile(r"\d{1,2}:\d{2}")
    expect(answer.locator("time")).to_have_text(clock)
    expect(page.get_by_test_id("msg-user").locator("time")).to_have_text(clock)

    # And after a reload, the replayed answer says (about) the same time
    live = datetime.fromisoformat(answer.locator("time").get_attribute("datetime") or "")
    page.reload()
    replayed = page.locator("[data-testid=msg-assistant][data-replayed=true]").last
    expect(replayed.locator("time")).to_have_text(clock)
    stored = datetime.fromisoformat(replayed.locator("time").get_attribute("datetime") or "")
    assert abs((stored - live).total_seconds()) < 60


def test_a_link_to_an_unknown_conversation_says_so_and_adds_nothing(browser_stack, new_page):
    # Given a link to a conversation that does not exist (or is someone else's)
    page = new_page()
    page.goto(f"{browser_stack.base}/#thread=c-does-not-exist-29")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")

    # Then the chat says it cannot find it, in words, with a way to start a new conversation
    error = page.get_by_test_id("chat-error")
    expect(error).to_contain_text("couldn't find this conversation")
    expect(error.get_by_role("button", name="New conversation")).to_be_visible()
    expect(page.locator("#transcript-host")).not_to_contain_text("not_found")
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    screenshot(page, "chat-unknown-conversation")

    # And the conversation list gains nothing
    expect(page.locator("[data-testid=thread-item][data-thread-id='c-does-not-exist-29']")).to_have_count(0)
    expect(page.get_by_test_id("thread-item").filter(has_text=re.compile(r"^Conversation"))).to_have_count(0)

    # And starting a new conversation from there works
    error.get_by_role("button", name="New conversation").click()
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    expect(page.get_by_test_id("chat-error")).to_have_count(0)


def test_a_hand_off_is_said_once(browser_stack, new_page):
    # Given a customer who asks for a person
    page = open_chat(new_page(), browser_stack, f"?token={browser_stack.token('c-29-once')}")
    send(page, "Talk to a human")
    expect(page.get_by_test_id("thread-status")).to_have_text("Waiting for a person")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")
    screenshot(page, "chat-handoff-requested")

    def said() -> int:
        """How many times the conversation says a person was asked for: a line, the hand-off agent's bubble."""
        lines = page.locator("[data-testid=handoff-note][data-state=requested]").count()
        return lines + page.locator("[data-testid=msg-assistant][data-agent=escalation]").count()

    # Then it is said once: by the hand-off agent's answer, not again by a line
    assert said() == 1
    expect(page.locator("[data-testid=msg-assistant][data-agent=escalation]")).to_contain_text("support agent")

    # And so after a reload
    page.reload()
    expect(page.locator("[data-testid=msg-assistant][data-replayed=true]")).to_have_count(1)
    assert said() == 1

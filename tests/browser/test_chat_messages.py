"""The chat's messages (issue 29): a message sent before the chat is connected is kept and sent once; live answers
have a time like replayed ones; a link to an unknown conversation says so plainly and adds nothing; a hand-off is
said once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCRIPTS, open_chat, record_sent_frames, screenshot, send

pytestmark = pytest.mark.browser


def test_a_message_sent_while_the_chat_connects_is_kept_and_sent_once(browser_stack, new_page):
    # Given a customer whose chat starts slowly
    page = new_page()
    page.add_init_script(path=SCRIPTS / "slow_start.js")
    sent = record_sent_frames(page)
    page.goto(browser_stack.base, wait_until="commit")

    # When they type and send a message in the first second, before the chat is connected
    box = page.get_by_test_id("composer-input")
    box.fill("What is the status of order 1042?")
    box.press("Enter")
    expect(page.get_by_test_id("connection-status")).not_to_have_attribute("data-state", "open")
    screenshot(page, "chat-sent-while-connecting")

    # Then it is kept, and sent once the chat is connected: once, and answered
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_contain_text("1042")
    expect(page.get_by_test_id("msg-user")).to_have_count(1)
    expect(page.get_by_test_id("msg-user").get_by_test_id("msg-text")).to_have_text("What is the status of order 1042?")
    messages = [frame for frame in sent if frame.get("type") == "message"]
    assert [frame["content"] for frame in messages] == ["What is the status of order 1042?"]
    expect(box).to_have_value("")

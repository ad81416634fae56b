"""Chat as people type, in a real browser: messages sent while the agent answers wait their turn; "Stop"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_chat, screenshot, send
from tests.e2e.conftest import Stack, start_stack

pytestmark = pytest.mark.browser

LONG_QUESTION = "What is your return policy?"


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Answers streamed at 80 ms a word: long enough to type behind them and to stop them."""
    yield from start_stack(tmp_path_factory, "browser-typing", OFFLINE_TOKEN_DELAY_MS="80")


def test_messages_typed_while_the_agent_answers_wait_their_turn(slow_stack, new_page):
    # Given an answer streaming
    page = open_chat(new_page(), slow_stack)
    send(page, LONG_QUESTION)
    answer = page.get_by_test_id("msg-assistant").first
    expect(answer).to_have_attribute("data-state", "streaming")

    # When the customer keeps typing: the box stays open and the messages show as waiting
    expect(page.get_by_test_id("composer-input")).to_be_enabled()
    send(page, "also, my order")
    send(page, "it's 1042")
    queued = page.get_by_test_id("queued-message")
    expect(queued).to_have_count(2)
    expect(queued.first).to_contain_text("Waiting to be answered")
    screenshot(page, "chat-queued-behind-answer")

    # Then, once the answer ends, they join the conversation and are answered together as the next turn
    expect(queued).to_have_count(0, timeout=30_000)
    expect(page.get_by_test_id("msg-user")).to_have_count(3)
    expect(page.get_by_test_id("msg-user").nth(2)).to_contain_text("it's 1042")
    second = page.get_by_test_id("msg-assistant").last
    expect(second).to_contain_text("1042", timeout=30_000)
    expect(second).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.get_by_test_id("stop-button")).to_be_hidden()


def test_stop_ends_the_answer_and_keeps_what_was_said(slow_stack, new_page):
    # Given an answer streaming
    page = open_chat(new_page(), slow_stack)
    send(page, LONG_QUESTION)
    answer = page.get_by_test_id("msg-assistant").first
    expect(answer).to_have_attribute("data-state", "streaming")
    stop = page.get_by_test_id("stop-button")
    expect(stop).to_be_visible()

    # When the customer presses Stop
    stop.click()

    # Then the answer stops, is marked as stopped, and the chat is ready for the next message
    expect(answer).to_have_attribute("data-stopped", "true", timeout=5_000)
    expect(stop).to_be_hidden()
    said = answer.inner_text()
    page.wait_for_timeout(1_000)
    assert answer.inner_text() == said, "tokens kept arriving after Stop"
    screenshot(page, "chat-stopped")
    send(page, "What is the status of order 1042?")
    expect(page.get_by_test_id("msg-assistant").last).to_contain_text("shipped", timeout=30_000)

    # And a reload shows the stopped answer as stopped
    page.reload()
    expect(page.locator("[data-testid=msg-assistant][data-stopped=true]")).to_have_count(1)

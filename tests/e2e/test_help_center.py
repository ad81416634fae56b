"""The help center over the local stack: answers quote an article and message_complete cites it; a question it does
not cover gets "I don't know"; `make kb-ingest` reaches a running stack without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smart_support.knowledge.ingest import ingest_directory
from tests.e2e.conftest import Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e
PAYMENT = {"title": "Payment methods", "url": "https://help.example-store.com/articles/payment-methods"}


def complete(events: list[dict]) -> dict:
    (done,) = [e for e in events if e["type"] == "message_complete"]
    return done


def test_an_answer_from_the_help_center_cites_its_article_in_message_complete(stack):
    with stack.ws() as client:
        events = client.ask(new_thread("kb"), "Do you accept PayPal?")
    assert [(e["tool"], e["agent"]) for e in events if e["type"] == "tool_call"] == [("search_faq", "knowledge")]
    assert "PayPal" in tokens(events)
    assert complete(events)["citations"] == [PAYMENT]
    # the agent looked for an ingested index in S3 under its own role (none locally) and used the shipped one
    assert "help-center index unavailable" not in stack.log()
    assert "AccessDenied" not in stack.log()


def test_a_question_the_help_center_does_not_cover_gets_i_dont_know_and_no_citations(stack):
    with stack.ws() as client:
        thread = new_thread("kb")
        events = client.ask(thread, "Do you offer student discounts?")
        assert tokens(events) == "I don't know — want me to get a person?"
        assert "citations" not in complete(events)
        # and a yes opens a ticket
        yes = client.ask(thread, "yes please")
    assert [e["tool"] for e in yes if e["type"] == "tool_call"] == ["escalate_to_human"]
    assert any(e["type"] == "handoff" and e["state"] == "requested" for e in yes)


ARTICLE = """---
title: {title}
url: https://help.example.test/articles/{slug}
---
{text}
"""


@pytest.fixture(scope="module")
def own_help_center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path, Path]]:
    """A stack answering from a help center of our own (KNOWLEDGE_INDEX_PATH), checked every second."""
    folder = tmp_path_factory.mktemp("articles")
    (folder / "opening-hours.md").write_text(
        ARTICLE.format(title="Store hours", slug="hours", text="Our Berlin showroom opens 10:00-19:00 on weekdays.")
    )
    index = folder.parent / "own-index.sqlite"
    ingest_directory(folder, index)
    yield from (
        (stack, folder, index)
        for stack in start_stack(tmp_path_factory, "kb", KNOWLEDGE_INDEX_PATH=str(index), KNOWLEDGE_CHECK_SECONDS="1")
    )


def test_make_kb_ingest_reaches_a_running_stack_without_a_restart(own_help_center):
    stack, folder, index = own_help_center
    with stack.ws() as client:
        # Given the stack answers from our own help center
        events = client.ask(new_thread("kb"), "What are your showroom hours?")
        assert "10:00-19:00" in tokens(events)
        assert complete(events)["citations"] == [
            {"title": "Store hours", "url": "https://help.example.test/articles/hours"}
        ]

        # When an article is added and the index rebuilt (what `make kb-ingest DIR=... OUT=...` does)
        (folder / "gift-wrap.md").write_text(
            ARTICLE.format(title="Gift wrapping", slug="gift-wrap", text="We gift-wrap any order for $4.95.")
        )
        ingest_directory(folder, index)
        time.sleep(1.2)

        # Then the running stack answers from it
        events = client.ask(new_thread("kb"), "What does gift wrapping cost?")
    assert "$4.95" in tokens(events)
    assert complete(events)["citations"][0]["url"] == "https://help.example.test/articles/gift-wrap"

"""The shipped knowledge base and its keyword search."""

from __future__ import annotations

import pytest

from smart_support.agent import knowledge


def test_every_article_loads():
    # Given faq.json shipped next to the module
    # When it is loaded
    articles = knowledge.articles()

    # Then the four DESIGN topics are covered
    assert {"returns", "shipping", "payment", "warranty"} <= {a.topic for a in articles}


@pytest.mark.parametrize(
    ("query", "article_id"),
    [
        ("What is your return policy?", "returns"),
        ("How long does shipping take?", "shipping-times"),
        ("Do you ship to Canada?", "international-shipping"),
        ("Which payment methods do you accept?", "payment"),
        ("Can I pay with PayPal?", "payment"),
        ("What does the warranty cover?", "warranty"),
        ("my headphones stopped working", "warranty"),
        ("how long do refunds take", "refunds"),
    ],
)
def test_search_finds_the_best_article_first(query, article_id):
    # Given a customer question
    # When the knowledge base is searched
    results = knowledge.search(query)

    # Then the matching article comes first
    assert results
    assert results[0].id == article_id


def test_search_returns_nothing_for_unrelated_text():
    # Given a question the knowledge base does not cover
    # When it is searched
    # Then nothing is returned (the agent then lists what it can do)
    assert knowledge.search("recommend a good movie") == []

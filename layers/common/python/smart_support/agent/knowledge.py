"""The small knowledge base shipped with the agent (faq.json) and a keyword search over it."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from pydantic import BaseModel

FAQ_PATH = Path(__file__).with_name("faq.json")
_WORD = re.compile(r"[a-z0-9$]+")
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "with",
        "you",
        "your",
    }
)


class Article(BaseModel):
    """One question and answer of the knowledge base."""

    id: str
    topic: str
    question: str
    answer: str
    keywords: list[str]


@cache
def articles() -> tuple[Article, ...]:
    """Every article, loaded once per process."""
    with FAQ_PATH.open(encoding="utf-8") as fh:
        return tuple(Article.model_validate(entry) for entry in json.load(fh))


def _words(text: str) -> set[str]:
    words = set(_WORD.findall(text.lower())) - _STOPWORDS
    return words | {w[:-1] for w in words if w.endswith("s") and len(w) > 3}


def search(query: str, limit: int = 2) -> list[Article]:
    """The articles that best match `query` (keyword phrases count most), best first; empty when none match."""
    text = query.lower()
    words = _words(query)
    scored = []
    for index, article in enumerate(articles()):
        score = 0
        for keyword in article.keywords:
            if " " in keyword:
                score += 3 if keyword in text else 0
            elif keyword in words:
                score += 2
        score += len(words & _words(article.question))
        if score:
            scored.append((-score, index, article))
    scored.sort()
    return [article for _, _, article in scored[:limit]]

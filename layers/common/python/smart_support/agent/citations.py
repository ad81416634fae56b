"""The articles an answer cites: those the help-center search returned in the turn (`message_complete.citations`).

Built from the tool's results, never from what the model wrote: a model cannot cite a page the search did not
return, and a link in an article's text or a customer's message never becomes a citation. Only http(s) URLs pass
(the ingest accepts no other; the chat checks again before it renders a link).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from langchain_core.messages import BaseMessage, ToolMessage

from smart_support.agent.context import turn_starts

SEARCH_TOOL = "search_faq"
MAX_CITATIONS = 5
MAX_TITLE_CHARS = 200
MAX_URL_CHARS = 2048

Citation = dict[str, str]


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def is_safe_url(url: str) -> bool:
    """An absolute http(s) URL of reasonable length, with no spaces or control characters."""
    if not url or len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def citations_in(messages: Iterable[Any], into: list[Citation] | None = None) -> list[Citation]:
    """The articles of the search results among `messages`, in the order returned, each once (added to `into`)."""
    found = into if into is not None else []
    for message in messages:
        if not isinstance(message, ToolMessage) or message.name != SEARCH_TOOL:
            continue
        try:
            payload = json.loads(_text(message))
        except ValueError:
            continue
        articles = payload.get("articles") if isinstance(payload, dict) else None
        for article in articles if isinstance(articles, list) else []:
            if not isinstance(article, dict):
                continue
            title = " ".join(str(article.get("title") or "").split())[:MAX_TITLE_CHARS]
            url = str(article.get("url") or "").strip()
            if title and is_safe_url(url) and all(c["url"] != url for c in found) and len(found) < MAX_CITATIONS:
                found.append({"title": title, "url": url})
    return found


def turn_citations(messages: list[BaseMessage]) -> list[Citation]:
    """The citations of the latest turn of a conversation (a resumed run: its searches ran before the approval)."""
    starts = turn_starts(messages)
    return citations_in(messages[starts[-1] :] if starts else messages)

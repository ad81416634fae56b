"""Help-center articles: Markdown with front matter, or HTML, parsed into sections and then into passages.

A Markdown article starts with front matter between two `---` lines (`title:` and `url:`, one `key: value` a line);
an HTML article takes its title from `<title>` (else its first `<h1>`) and its URL from `<link rel="canonical">` (else
`<meta property="og:url">`). Every heading starts a section; every paragraph or list is a block; the passages the
index holds are those blocks, short ones joined to the next and long ones cut at sentence ends.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import urlsplit

SUFFIXES = (".md", ".markdown", ".html", ".htm")
MAX_ARTICLE_BYTES = 512 * 1024  # a help article is a few KB; anything larger is not one
MIN_PASSAGE_WORDS = 12  # shorter blocks (a one-line list item) are joined to the next one of their section
MAX_PASSAGE_WORDS = 120  # longer blocks are cut at sentence ends
MAX_TITLE_CHARS = 200


class ArticleError(ValueError):
    """An article that cannot be indexed (no title, no http(s) URL, no text, too large, not UTF-8)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class Section:
    """A heading (the article's title for the text before the first heading) and its blocks of text."""

    heading: str
    blocks: tuple[str, ...]


@dataclass(frozen=True)
class Article:
    """One help-center article."""

    slug: str
    title: str
    url: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Passage:
    """What the index holds and search returns: a block of an article with where it comes from."""

    slug: str
    title: str
    url: str
    section: str
    text: str


def is_article(name: str) -> bool:
    """Whether a file or object name is one the ingest reads (Markdown or HTML)."""
    return name.lower().endswith(SUFFIXES)


def parse_article(name: str, data: bytes) -> Article:
    """The article in `data`, named `name` (a path or object key: its suffix says Markdown or HTML)."""
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(name, f"larger than {MAX_ARTICLE_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(name, "not UTF-8 text") from exc
    if name.lower().endswith((".html", ".htm")):
        title, url, sections = _parse_html(text)
    else:
        title, url, sections = _parse_markdown(text)
    title = _clean(title)
    if not title:
        raise ArticleError(name, "no title (front matter `title:` or a first heading)")
    if len(title) > MAX_TITLE_CHARS:
        raise ArticleError(name, f"a title longer than {MAX_TITLE_CHARS} characters")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArticleError(name, "no http(s) URL (front matter `url:`, or a canonical link)")
    kept = tuple(s for s in sections if s.blocks)
    if not kept:
        raise ArticleError(name, "no text")
    return Article(slug=PurePosixPath(name).stem, title=title, url=url, sections=kept)


def passages(article: Article) -> list[Passage]:
    """The article's passages, in reading order."""
    found = []
    for section in article.sections:
        for text in _chunks(section.blocks):
            found.append(Passage(article.slug, article.title, article.url, section.heading, text))
    return found


def source_digest(files: Iterable[tuple[str, bytes]]) -> str:
    """A digest of a set of article files (names and bytes, in any order): what an index was built from."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


# ---------------------------------------------------------------- passages

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def _chunks(blocks: Iterable[str]) -> list[str]:
    """Blocks -> passages: short blocks joined to the next, long ones cut at sentence ends."""
    out: list[str] = []
    pending = ""
    for block in blocks:
        pending = f"{pending} {block}".strip()
        if len(pending.split()) >= MIN_PASSAGE_WORDS:
            out.extend(_cut(pending))
            pending = ""
    if pending:
        if out and len(out[-1].split()) + len(pending.split()) <= MAX_PASSAGE_WORDS:
            out[-1] = f"{out[-1]} {pending}"
        else:
            out.append(pending)
    return out


def _cut(text: str) -> list[str]:
    if len(text.split()) <= MAX_PASSAGE_WORDS:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if current and len(" ".join([*current, sentence]).split()) > MAX_PASSAGE_WORDS:
            pieces.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    # a single sentence longer than the limit: cut by words
    out: list[str] = []
    for piece in pieces:
        words = piece.split()
        out.extend(" ".join(words[i : i + MAX_PASSAGE_WORDS]) for i in range(0, len(words), MAX_PASSAGE_WORDS))
    return out


# ---------------------------------------------------------------- Markdown

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_TAG = re.compile(r"<[^>]+>")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            meta = {}
            for line in lines[1:end]:
                key, sep, value = line.partition(":")
                if sep and key.strip():
                    meta[key.strip().lower()] = value.strip().strip("\"'")
            return meta, "\n".join(lines[end + 1 :])
    return {}, text


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    for _ in range(2):  # **bold with *italic* inside**
        text = _EMPHASIS.sub(r"\2", text)
    return html.unescape(text)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _parse_markdown(text: str) -> tuple[str, str, list[Section]]:
    meta, body = _front_matter(text)
    title = meta.get("title", "")
    sections: list[Section] = []
    heading: str | None = None
    blocks: list[str] = []
    block: list[str] = []
    fenced = False

    def end_block() -> None:
        if block and (joined := _clean(_inline(" ".join(block)))):
            blocks.append(joined)
        block.clear()

    def end_section() -> None:
        end_block()
        sections.append(Section(heading if heading is not None else "", tuple(blocks)))
        blocks.clear()

    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            end_block()
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            if len(match.group(1)) == 1 and not title and heading is None and not blocks and not block:
                title = match.group(2)  # a leading `# Title` names an article without front matter
                continue
            end_section()
            heading = _clean(_inline(match.group(2)))
        elif not line.strip():
            end_block()
        elif _LIST_ITEM.match(line) and not fenced:
            end_block()
            block.append(_LIST_ITEM.sub("", line))
        else:
            block.append(line.strip())
    end_section()
    title = _clean(_inline(title))
    first = [Section(s.heading or title, s.blocks) for s in sections]
    return title, meta.get("url", ""), first


# ---------------------------------------------------------------- HTML


_SKIPPED = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template", "svg", "form", "aside"})
_BLOCKS = frozenset({"p", "li", "td", "th", "dd", "dt", "blockquote", "pre", "figcaption"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "source", "area", "base", "col", "embed", "wbr"})


class _HtmlArticle(HTMLParser):
    """Collects the title, canonical URL, headings and blocks of text of an HTML page (scripts, navigation and
    footers left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.url = ""
        self.og_url = ""
        self.first_h1 = ""
        self.sections: list[Section] = []
        self._heading = ""
        self._blocks: list[str] = []
        self._text: list[str] = []
        self._in: str | None = None  # the element whose text is being collected: title, a heading, or a block
        self._loose: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.url = self.url or values.get("href", "")
        elif tag == "meta" and values.get("property", values.get("name", "")).lower() in ("og:url", "url"):
            self.og_url = self.og_url or values.get("content", "")
        elif self._skip:
            return
        elif tag == "br":
            self._text.append(" ")
        elif tag in _VOID:
            return
        elif tag == "title" or tag in _HEADINGS or (tag in _BLOCKS and self._in is None):
            self._flush()
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == self._in:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in is None:
            self._loose.append(data)  # text straight inside a <div> or <article>: a block of its own
        else:
            self._text.append(data)

    def _flush(self) -> None:
        if loose := _clean("".join(self._loose)):
            self._blocks.append(loose)
        self._loose = []
        text, kind = _clean("".join(self._text)), self._in
        self._text, self._in = [], None
        if not text or kind is None:
            return
        if kind == "title":
            self.title = self.title or text
        elif kind == "h1" and not self.first_h1:
            self.first_h1 = text
        elif kind in _HEADINGS:
            self._end_section()
            self._heading = text
        else:
            self._blocks.append(text)

    def _end_section(self) -> None:
        if self._blocks:
            self.sections.append(Section(self._heading, tuple(self._blocks)))
        self._blocks = []

    def finish(self) -> tuple[str, str, list[Section]]:
        self.close()
        self._flush()
        self._end_section()
        title = self.title or self.first_h1
        sections = [Section(s.heading or title, s.blocks) for s in self.sections]
        return title, self.url or self.og_url, sections


def _parse_html(text: str) -> tuple[str, str, list[Section]]:
    parser = _HtmlArticle()
    parser.feed(text)
    return parser.finish()

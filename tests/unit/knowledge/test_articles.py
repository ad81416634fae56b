"""Help-center articles: Markdown with front matter and HTML parsed into titled, linked passages."""

from __future__ import annotations

import pytest

from smart_support.knowledge.articles import (
    MAX_PASSAGE_WORDS,
    ArticleError,
    parse_article,
    passages,
    source_digest,
)

MARKDOWN = b"""---
title: "Returns policy"
url: https://help.example-store.com/articles/returns-policy
---
You can return most items within **30 days** of delivery, see [our label page](https://x.test/label).

## What counts as unused
- Shoes tried on indoors only.
- Clothing with its tags.

## After the 30 days
The warranty still covers defects.
"""


def test_markdown_front_matter_gives_title_url_and_sections():
    # Given a Markdown article with front matter, an intro, a list and two sections
    # When it is parsed
    article = parse_article("returns-policy.md", MARKDOWN)

    # Then title and URL come from the front matter, the intro is under the title, markup is gone
    assert (article.slug, article.title) == ("returns-policy", "Returns policy")
    assert article.url == "https://help.example-store.com/articles/returns-policy"
    found = [(p.section, p.text) for p in passages(article)]
    assert found[0] == (
        "Returns policy",
        "You can return most items within 30 days of delivery, see our label page.",
    )
    # short blocks (one-line list items) are joined into one passage of their section
    assert found[1] == ("What counts as unused", "Shoes tried on indoors only. Clothing with its tags.")
    assert found[2] == ("After the 30 days", "The warranty still covers defects.")
    assert {p.url for p in passages(article)} == {article.url}


def test_a_markdown_article_without_front_matter_takes_its_first_heading_as_title():
    data = b"# Gift cards\n\nThey never expire.\n"
    article = parse_article("gift-cards.md", data.replace(b"# Gift", b"---\nurl: https://h.test/g\n---\n# Gift"))
    assert article.title == "Gift cards"
    assert [p.text for p in passages(article)] == ["They never expire."]


HTML = b"""<!doctype html><html><head><title>Packaging &amp; recycling</title>
<link rel="canonical" href="https://help.example-store.com/articles/packaging">
<script>var tracking = "ignore me";</script><style>p { color: red }</style></head>
<body><nav>Home &rsaquo; Orders</nav>
<h1>Packaging and recycling</h1>
<p>Our boxes are <b>recycled</b> cardboard.<br>No plastic.</p>
<h2>Old electronics</h2><ul><li>Drop earbuds at a recycling point.</li></ul>
<footer>&copy; Example Store</footer></body></html>"""


def test_html_gives_title_canonical_url_and_text_without_scripts_navigation_or_footer():
    # Given an HTML page with a script, a style, navigation and a footer
    # When it is parsed
    article = parse_article("packaging.html", HTML)

    # Then only the article's own text is kept, under its headings
    assert article.title == "Packaging & recycling"
    assert article.url == "https://help.example-store.com/articles/packaging"
    assert [(p.section, p.text) for p in passages(article)] == [
        ("Packaging & recycling", "Our boxes are recycled cardboard. No plastic."),
        ("Old electronics", "Drop earbuds at a recycling point."),
    ]


def test_html_text_straight_inside_a_div_is_kept():
    data = b'<title>T</title><link rel="canonical" href="https://h.test/t"><div>Loose text.<p>A paragraph.</p></div>'
    assert [p.text for p in passages(parse_article("t.htm", data))] == ["Loose text. A paragraph."]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("a.md", b"---\nurl: https://h.test/a\n---\nText only.\n", "no title"),
        ("a.md", b"---\ntitle: A\n---\nText.\n", "no http(s) URL"),
        ("a.md", b"---\ntitle: A\nurl: javascript:alert(1)\n---\nText.\n", "no http(s) URL"),
        ("a.md", b"---\ntitle: A\nurl: https://h.test/a\n---\n\n## Empty\n", "no text"),
        ("a.md", b"---\ntitle: A\nurl: https://h.test/a\n---\n\xff\xfe", "not UTF-8"),
        ("a.md", b"x" * (600 * 1024), "larger than"),
    ],
)
def test_an_article_that_cannot_be_cited_is_refused_with_the_reason(name, data, reason):
    # Given an article without a title, a usable link or text (or not text at all)
    # When it is parsed
    # Then it is refused, saying why
    with pytest.raises(ArticleError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_article(name, data)


def test_a_long_block_is_cut_at_sentence_ends():
    # Given a paragraph of 60 sentences of 5 words
    sentence = "Every product ships quickly here."
    data = b"---\ntitle: Long\nurl: https://h.test/l\n---\n" + " ".join([sentence] * 60).encode()

    # When it is split into passages
    found = passages(parse_article("long.md", data))

    # Then each passage stays under the limit and ends at a sentence end
    assert len(found) == 3
    assert all(len(p.text.split()) <= MAX_PASSAGE_WORDS and p.text.endswith(".") for p in found)


def test_the_source_digest_ignores_the_order_of_the_files_and_sees_any_change():
    files = [("a.md", b"1"), ("b.md", b"2")]
    assert source_digest(files) == source_digest(list(reversed(files)))
    assert source_digest(files) != source_digest([("a.md", b"1"), ("b.md", b"3")])

"""The assistant's answers as safe Markdown (web/markdown.js, issue 29), in a real browser.

The renderer builds DOM nodes, never HTML from the answer: these tests render Markdown in a page of the local stack
(its CSP included), throw XSS payloads at it, and check that nothing runs and that it creates only the elements and
attributes it may. Then an answer streamed in pieces, and a real answer whose tracking number is a link.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import SCRIPTS, open_chat, screenshot, send

pytestmark = pytest.mark.browser

# What the renderer may create: element -> the attributes it may have.
ALLOWED = {
    "P": set(),
    "BR": set(),
    "UL": set(),
    "OL": {"start"},
    "LI": set(),
    "STRONG": set(),
    "EM": set(),
    "CODE": set(),
    "A": {"href", "target", "rel"},
}
LINK = 'target="_blank" rel="noopener noreferrer"'
UPS_1042 = "https://www.ups.com/track?tracknum=1Z999AA10123456784"  # the carrier's page for order 1042's parcel

XSS = [
    '<img src=x onerror="window.__xss = 1">',
    "<script>window.__xss = 2</script>",
    '<svg onload="window.__xss = 3"><circle r="1"/></svg>',
    '<iframe src="javascript:window.__xss = 4"></iframe>',
    '<a href="javascript:window.__xss = 5">click</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](java\tscript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](vbscript:msgbox(1))",
    "[x](//evil.example/path)",
    "[a [b](javascript:alert(1)) c](https://example.com/ok)",
    "[[[x]]](javascript:alert(1))",
    '[x](https://example.com/ "title" onclick=alert(1))',
    "[**x**](javascript:alert(1))",
    '![x](https://example.com/x.png" onerror="alert(1))',
    "![x](https://example.com/x.png)",
    '**<b onmouseover="alert(1)">bold</b>**',
    "`<img src=x onerror=alert(1)>`",
    'https://example.com/"><img src=x onerror=alert(1)>',
    "<https://example.com/>",
    "*<em>nested</em>* _<i>x</i>_",
    "- <li>item</li>\n- [x](javascript:alert(1))",
    "&lt;script&gt;alert(1)&lt;/script&gt; &#106;avascript:alert(1)",
    "[x](https://example.com/&#x22;onmouseover=alert(1))",
    "[" * 3000 + "x" + "]" * 3000 + "(javascript:alert(1))",
    "*" * 5000,
    "**a " * 2000,
]


def render(page: Page, markdown: str) -> dict[str, Any]:
    """What web/markdown.js creates for `markdown` in the page: {html, text, elements}."""
    rendered: dict[str, Any] = page.evaluate((SCRIPTS / "render_markdown.js").read_text(), markdown)
    return rendered


def unsafe_parts(rendered: dict[str, Any]) -> list[str]:
    """Elements or attributes the renderer may not create, and links that are not safe."""
    found = []
    for element in rendered["elements"]:
        tag, attributes = element["tag"], element["attributes"]
        if tag not in ALLOWED:
            found.append(f"<{tag.lower()}>")
            continue
        found += [f"{tag.lower()}[{name}]" for name in set(attributes) - ALLOWED[tag]]
        if tag == "A":
            if urlparse(attributes.get("href", "")).scheme not in {"http", "https", "mailto"}:
                found.append(f"a[href={attributes.get('href')}]")
            if attributes.get("rel") != "noopener noreferrer" or attributes.get("target") != "_blank":
                found.append(f"a without rel/target: {attributes}")
    return found


@pytest.fixture
def page(browser_stack, new_page) -> Page:
    """A page of the local stack (the chat), whose modules the tests import."""
    opened: Page = new_page()
    opened.goto(browser_stack.base)
    expect(opened.get_by_test_id("composer-input")).to_be_visible()
    return opened


def test_xss_payloads_run_nothing_and_create_only_the_allowed_elements(page):
    # Given a page that notices any script that runs (a dialog, or window.__xss set)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    # When each payload is rendered as an answer
    for payload in XSS:
        started = time.monotonic()
        rendered = render(page, payload)

        # Then it creates only the allowed elements, with the allowed attributes, and safe links
        assert not unsafe_parts(rendered), (
            f"{payload[:60]!r} created {unsafe_parts(rendered)}: {rendered['html'][:300]}"
        )
        assert time.monotonic() - started < 2, f"{payload[:60]!r} took too long to render"

    # And nothing ran
    assert page.evaluate("window.__xss") is None
    assert not dialogs, f"a payload opened dialogs: {dialogs}"


def test_what_an_unsafe_link_or_html_shows_is_its_text(page):
    # A link that may not be one is its text alone; HTML is shown as written
    assert render(page, "[x](javascript:alert(1))")["html"] == "<p>x</p>"
    shown = render(page, '<img src=x onerror="window.__xss = 1"> and <script>alert(1)</script>')
    assert shown["text"] == '<img src=x onerror="window.__xss = 1"> and <script>alert(1)</script>'
    nested = render(page, "[a [b](javascript:alert(1)) c](https://example.com/ok)")
    assert nested["html"] == f'<p><a href="https://example.com/ok" {LINK}>a [b](javascript:alert(1)) c</a></p>'


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        (
            "**bold**, __bold__, *italic*, _italic_ and `code`",
            "<p><strong>bold</strong>, <strong>bold</strong>, <em>italic</em>, <em>italic</em>"
            " and <code>code</code></p>",
        ),
        ("- one\n- **two**\n* three", "<ul><li>one</li><li><strong>two</strong></li><li>three</li></ul>"),
        ("1. first\n2. second", "<ol><li>first</li><li>second</li></ol>"),
        ("3. third\n\n4. fourth", '<ol start="3"><li>third</li><li>fourth</li></ol>'),
        ("- a\n  - b\n- c", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>"),
        (
            "Steps:\n1. Pack it\n2. Ship it\n\nThanks!",
            "<p>Steps:</p><ol><li>Pack it</li><li>Ship it</li></ol><p>Thanks!</p>",
        ),
        ("line one\nline two\n\nnext paragraph", "<p>line one<br>line two</p><p>next paragraph</p>"),
        (
            "[the help center](https://example.com/help)",
            f'<p><a href="https://example.com/help" {LINK}>the help center</a></p>',
        ),
        ("[write to us](mailto:help@example.com)", f'<p><a href="mailto:help@example.com" {LINK}>write to us</a></p>'),
        (
            "See https://example.com/a_b_(c).",
            f'<p>See <a href="https://example.com/a_b_(c)" {LINK}>https://example.com/a_b_(c)</a>.</p>',
        ),
        (
            "UPS tracking 1Z999AA10123456784.",
            f'<p>UPS tracking <a href="{UPS_1042}" {LINK}>1Z999AA10123456784</a>.</p>',
        ),
        ("snake_case_name, 2 * 3 * 4 and 5*6", "<p>snake_case_name, 2 * 3 * 4 and 5*6</p>"),
        (
            "\\*not italic\\*, \\[not a link\\] and \\`not code\\`",
            "<p>*not italic*, [not a link] and `not code`</p>",
        ),
        ("# Not a heading\n> not a quote", "<p># Not a heading<br>&gt; not a quote</p>"),
    ],
)
def test_the_markdown_an_answer_may_use(page, markdown, html):
    assert render(page, markdown)["html"] == html


def test_a_streamed_answer_is_drawn_again_as_it_grows(page):
    # Given an answer that arrives in pieces, cutting its bold, its list and its link in the middle
    chunks = [
        "Your order ",
        "**10",
        "42** has shipped:\n- trac",
        "king 1Z999AA1012",
        "3456784\n- see [the hel",
        "p center](https://example.com/help)",
    ]

    # When the pieces stream into the bubble
    streamed = page.evaluate((SCRIPTS / "stream_markdown.js").read_text(), chunks)
    states = streamed["states"]

    # Then the bubble shows the Markdown as far as it has arrived, in one bubble
    assert streamed["bubbles"] == 1
    assert states[1] == "<p>Your order **10</p>"  # not bold until it is closed
    assert states[2] == "<p>Your order <strong>1042</strong> has shipped:</p><ul><li>trac</li></ul>"
    assert "ups.com" not in states[3]  # half a tracking number is no link
    assert states[-1] == (
        "<p>Your order <strong>1042</strong> has shipped:</p><ul>"
        f'<li>tracking <a href="{UPS_1042}" {LINK}>1Z999AA10123456784</a></li>'
        f'<li>see <a href="https://example.com/help" {LINK}>the help center</a></li></ul>'
    )


def test_the_tracking_number_of_a_real_answer_is_a_link(browser_stack, new_page):
    # Given a customer asking where order 1042 is
    page = open_chat(new_page(), browser_stack)
    send(page, "Where is order 1042? Can I track it?")

    # Then the answer's tracking number links to the carrier's tracking page, in a new tab
    answer = page.get_by_test_id("msg-assistant").last
    expect(answer).to_have_attribute("data-state", "done")
    tracking = answer.get_by_role("link", name="1Z999AA10123456784")
    expect(tracking).to_have_attribute("href", UPS_1042)
    expect(tracking).to_have_attribute("target", "_blank")
    expect(tracking).to_have_attribute("rel", "noopener noreferrer")
    screenshot(page, "chat-tracking-link")

"""The pages' security in a real browser: the headers CloudFront adds in AWS (served the same locally), only their own
origin or config.json, a ?token= taken out of the address bar, who is signed in always shown, no framing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import open_chat, send

pytestmark = pytest.mark.browser

EVIL = "https://evil.example"
# Every CSP violation the page reports, for the test to read.
RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.effectiveDirective} ${e.blockedURI}`));
"""


def record_traffic(page: Page) -> list[str]:
    """Every URL the page requests or opens a WebSocket to; requests to the would-be attacker's host are refused."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("websocket", lambda ws: seen.append(ws.url))
    page.route(f"{EVIL}/**", lambda route: route.abort())
    page.add_init_script(RECORD_CSP)
    return seen


def origins(urls: list[str]) -> set[str]:
    return {urlsplit(u).netloc for u in urls if not u.startswith("data:")}


@pytest.mark.parametrize("path", ["/", "/console", "/static/chat.js", "/config.json"])
def test_pages_carry_the_templates_security_headers(browser_stack, new_page, path):
    # Given the local stack serving the pages
    page = new_page()

    # When the browser loads one of them
    response = page.request.get(f"{browser_stack.base}{path}")

    # Then the headers are those of the CloudFront response headers policy, with the local origins
    headers = response.headers
    assert response.ok
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        f"connect-src 'self' ws://127.0.0.1:{browser_stack.port} http://127.0.0.1:{browser_stack.port}",
    ):
        assert directive in csp, f"{directive!r} missing from {csp!r}"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"].startswith("max-age=")


def test_local_config_json_names_the_stacks_own_urls(browser_stack, new_page):
    # When the page's config.json is fetched
    config = new_page().request.get(f"{browser_stack.base}/config.json").json()

    # Then it names this stack's WebSocket and HTTP API, and where a page gets a guest token (on its own origin)
    assert config == {
        "wsUrl": f"ws://127.0.0.1:{browser_stack.port}/ws",
        "apiUrl": f"http://127.0.0.1:{browser_stack.port}/api/v1",
        "guestUrl": "/_local/guest",
    }


def test_chat_ignores_api_and_ws_in_the_address_and_takes_the_token_out(browser_stack, new_page):
    # Given a link that names another host for the API and the WebSocket, and carries a token
    page = new_page()
    seen = record_traffic(page)
    token = browser_stack.token("c-link")

    # When a customer opens it and chats
    page.goto(f"{browser_stack.base}/?api={EVIL}/api/v1&ws=wss://evil.example/ws&token={token}")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    send(page, "What is the status of order 1042?")
    expect(page.get_by_test_id("msg-assistant").last).to_have_attribute("data-state", "done")

    # Then the token left the address bar, the page says who it signed in (and that a link did it)
    assert "token=" not in page.url
    who = page.get_by_test_id("signed-in-as")
    expect(who).to_have_text("Signed in as c-link")
    expect(who).to_have_attribute("data-link", "true")
    # and every request and the WebSocket went to the page's own origin, none to the linked host
    assert origins(seen) == {f"127.0.0.1:{browser_stack.port}"}, sorted(set(seen))
    assert any(u == f"ws://127.0.0.1:{browser_stack.port}/ws?token={token}" for u in seen)
    assert page.evaluate("window.__csp") == []


def test_console_ignores_api_in_the_address_and_shows_the_operator(browser_stack, new_page):
    # Given a console link naming another API host, with an operator token
    page = new_page()
    seen = record_traffic(page)

    # When the operator opens it
    page.goto(f"{browser_stack.base}/console?api={EVIL}/api/v1&token={browser_stack.token('op-link', 'operator')}")

    # Then the console loads from its own origin only, and shows who is signed in
    expect(page.get_by_test_id("operator-identity")).to_contain_text("op-link")
    page.wait_for_load_state("networkidle")
    assert "token=" not in page.url
    assert any(u.startswith(f"{browser_stack.base}/api/v1/approvals") for u in seen), "the console called no API"
    assert origins(seen) == {f"127.0.0.1:{browser_stack.port}"}, sorted(set(seen))
    assert page.evaluate("window.__csp") == []


def test_csp_blocks_an_injected_inline_script(browser_stack, new_page):
    # Given the chat page
    page = new_page()
    page.add_init_script(RECORD_CSP)
    open_chat(page, browser_stack)

    # When something injects an inline script (what an XSS would do)
    page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__pwned = true";
          document.head.append(s);
        }"""
    )

    # Then it does not run, and the browser reports the policy it broke
    assert page.evaluate("window.__pwned") is None
    page.wait_for_function("() => window.__csp.length > 0")
    assert any(v.startswith("script-src") for v in page.evaluate("window.__csp"))


@contextmanager
def framing_site(target: str) -> Iterator[str]:
    """A page framing `target` from another origin: 127.0.0.1 on another port (local: no private network rule bites)."""
    body = f'<!doctype html><iframe src="{target}" width="800" height="600"></iframe>'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.mark.parametrize("path", ["/", "/console"])
def test_pages_refuse_to_be_framed(browser_stack, new_page, path):
    # Given a page of another origin that frames the chat or the console (clickjacking)
    page = new_page()
    with framing_site(f"{browser_stack.base}{path}") as framing:
        # When the browser loads it
        with page.expect_response(f"{browser_stack.base}{path}") as framed:
            page.goto(framing)
        page.wait_for_timeout(500)

        # Then the page was fetched but the browser would not show it in the frame: no chat, no console in there
        assert framed.value.status == 200
        frame = next(f for f in page.frames if f != page.main_frame)
        assert frame.url != f"{browser_stack.base}{path}"
        assert frame.locator("[data-testid=composer-input], [data-testid=operator-token-input]").count() == 0

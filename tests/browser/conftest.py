"""Browser tests: Debian's headless Chromium driven by Playwright against a local stack of their own.

The stack is separate from the e2e one because these tests change demo orders (1043 cancelled, 1045 refunded).
Screenshots go to tests/browser/artifacts/ (git-ignored); a failing test also saves one of every open page.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, WebSocket, expect, sync_playwright

from tests.e2e.conftest import Stack, start_stack

ARTIFACTS = Path(__file__).parent / "artifacts"
SCRIPTS = Path(__file__).parent / "scripts"  # JavaScript the tests put into pages
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

# Records every WebSocket the page opens, so a test can drop the connection like a flaky network would.
TRACK_SOCKETS = """
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""

expect.set_options(timeout=15_000)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A local stack for the browser tests; tokens paced a little so streaming is visible."""
    yield from start_stack(tmp_path_factory, "browser", OFFLINE_TOKEN_DELAY_MS="10")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ARTIFACTS.mkdir(exist_ok=True)
    for stale in ARTIFACTS.glob("FAILED-*.png"):
        stale.unlink()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Opens pages, each in its own browser context (its own localStorage), checked for uncaught JS errors."""
    contexts: list[BrowserContext] = []
    pages: list[Page] = []
    errors: list[str] = []

    def open_page(viewport: ViewportSize | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP)
        context.add_init_script(TRACK_SOCKETS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(f"{page.url}: {err}"))
        pages.append(page)
        return page

    yield open_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)[:150]  # a parametrized id may hold "/" or newlines
        for index, page in enumerate(pages):
            if not page.is_closed():
                page.screenshot(path=ARTIFACTS / f"FAILED-{name}-{index}.png", full_page=True)
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot as a test artifact."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    return path


def open_chat(page: Page, stack: Stack, query: str = "") -> Page:
    """Open the web chat and wait until its WebSocket is connected."""
    page.goto(f"{stack.base}/{query}")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    return page


def open_console(page: Page, stack: Stack, sub: str = "op-1", name: str | None = None) -> Page:
    """Open the operator console signed in as an operator (the token passed as ?token=, as a link would)."""
    token = stack.token(sub, "operator", **({"name": name} if name else {}))
    page.goto(f"{stack.base}/console?token={token}")
    expect(page.get_by_test_id("operator-identity")).to_contain_text(sub)
    return page


def settle(page: Page) -> None:
    """Wait until what moves on the page has stopped (a sliding panel, a fading row), infinite loops (a caret) aside."""
    page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running' || "
        "a.effect?.getComputedTiming().iterations === Infinity)"
    )


def sideways_overflow(page: Page) -> int:
    """How many pixels the page scrolls sideways (0 when everything fits the width)."""
    return int(page.evaluate("Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"))


def record_sent_frames(page: Page) -> list[dict[str, Any]]:
    """Every JSON frame the page sends on its WebSockets, as the server receives it (register before page.goto)."""
    sent: list[dict[str, Any]] = []

    def on_socket(socket: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            with contextlib.suppress(ValueError):
                sent.append(json.loads(payload))

        socket.on("framesent", on_frame)

    page.on("websocket", on_socket)
    return sent


def send(page: Page, text: str) -> None:
    """Type a message and press Enter, like a customer would."""
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


def open_thread_id(page: Page) -> str:
    """The id of the conversation on screen."""
    thread_id = page.locator("#transcript-host [data-testid=transcript]").get_attribute("data-thread-id")
    assert thread_id and re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", thread_id)
    return thread_id

"""Swagger UI at /api/v1/docs in a real browser: "Try it out" reaches the API through the document's server URL."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def try_it_out(page: Page, method: str, path: str) -> tuple[str, str]:
    """Expand an operation, press "Try it out" then "Execute"; returns (status, body) Swagger UI shows."""
    block = (
        page.locator(f".opblock-{method.lower()}")
        .filter(has=page.locator(".opblock-summary-path", has_text=path))
        .filter(has_not=page.locator(".opblock-summary-path", has_text=f"{path}/"))
    )
    block.locator(".opblock-summary-control").click()
    block.get_by_role("button", name="Try it out").click()
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table .response .response-col_status")
    expect(status).not_to_be_empty()
    body = block.locator(".live-responses-table .response-col_description pre").first
    return status.inner_text().strip(), body.inner_text()


def test_try_it_out_calls_the_api_through_the_documented_server(browser_stack, new_page):
    # Given Swagger UI as the local stack serves it (its assets inline: no CDN needed)
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{browser_stack.base}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("smart-support API")
    expect(page.locator("select#servers")).to_contain_text("/local")

    # When someone tries the public health route
    status, body = try_it_out(page, "GET", "/api/v1/health")

    # Then it answers through the document's server URL (the stage, as API Gateway serves it)
    assert status == "200", body
    assert '"status": "ok"' in body
    assert f"{browser_stack.base}/local/api/v1/health" in requests

    # When they authorize with an operator's token and try an operator route
    page.locator(".auth-wrapper .authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").first.fill(browser_stack.token("op-swagger", "operator"))
    dialog.locator("button.modal-btn.authorize").click()
    dialog.locator("button.btn-done").click()
    status, body = try_it_out(page, "GET", "/api/v1/analytics")

    # Then the bearer token went along and the answer is the documented body
    assert status == "200", body
    assert '"turn_latency_ms"' in body
    screenshot(page, "swagger-try-it-out")


def test_try_it_out_without_a_token_shows_the_documented_refusal(browser_stack, new_page):
    # Given Swagger UI, nobody authorized
    page = new_page()
    page.goto(f"{browser_stack.base}/api/v1/docs")

    # When someone tries an operator route without a token (the local stack lets a tokenless call in as a customer)
    status, body = try_it_out(page, "GET", "/api/v1/audit")

    # Then the answer is the documented 403 with the error envelope
    assert status == "403", body
    assert '"code": "forbidden"' in body

"""`ORDER_BACKEND=http make dev`: the stack starts the fake order API, seeds its token in SSM (read by the agent
under its own IAM role), and the chat reads and cancels orders through it."""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def http_stack(tmp_path_factory) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory, "orders-http", ORDER_BACKEND="http")


def test_the_local_stack_runs_the_chat_against_the_fake_order_api(http_stack):
    # Given the stack started with ORDER_BACKEND=http and no ORDER_API_URL
    assert "the fake order API serves the demo orders at http://127.0.0.1:" in http_stack.log()
    with http_stack.ws() as client:
        # When the customer asks about an order, Then the answer comes through the API
        status = tokens(client.ask(new_thread("status"), "What is the status of order 1042?"))
        assert "1Z999AA10123456784" in status

        # When the customer asks for a cancel and approves it
        thread = new_thread("cancel")
        interrupt = client.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt"
        rest = client.decide(thread, interrupt, approved=True)

        # Then the order is cancelled, as the API now says
        assert "cancelled" in tokens(rest, "order_actions")
        assert "cancelled" in tokens(client.ask(new_thread("check"), "What is the status of order 1043?")).lower()
    assert "AccessDenied" not in http_stack.log()

"""`make dev` with MODEL_PROVIDER=openai: the agent function streams from an OpenAI-compatible endpoint, and reads the
endpoint's key from SSM under its own role, as in AWS (OPENAI_API_KEY only seeds the parameter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Stack, new_thread, start_stack, tokens
from tests.integration.fake_openai import FakeOpenAI, text_answer, tool_call

KEY = "sk-local-e2e-0123456789"
ANSWER = ["Order 1042 has shipped", " with UPS", " and should arrive by 2026-11-28."]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[FakeOpenAI]:
    """The endpoint answers the one status question of each stack below: the tool call, then the answer."""
    script = [tool_call("get_order_status", {"order_id": "1042"}, "call_status"), text_answer(*ANSWER)]
    with FakeOpenAI(script * 2) as fake:
        yield fake


def openai_stack(tmp_path_factory: pytest.TempPathFactory, endpoint: FakeOpenAI, **env: str) -> Iterator[Stack]:
    """The local stack on the endpoint, with a key (which only seeds the SSM parameter the agent reads)."""
    yield from start_stack(
        tmp_path_factory,
        "openai",
        MODEL_PROVIDER="openai",
        OPENAI_BASE_URL=endpoint.base_url,
        OPENAI_MODEL="qwen2.5-coder",
        OPENAI_API_KEY=KEY,
        OPENAI_API_KEY_PARAMETER="",  # the default parameter name, whatever this shell has set
        **env,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, endpoint: FakeOpenAI) -> Iterator[Stack]:
    yield from openai_stack(tmp_path_factory, endpoint)


@pytest.fixture(scope="module")
def stack_without_grant(tmp_path_factory: pytest.TempPathFactory, endpoint: FakeOpenAI) -> Iterator[Stack]:
    """The agent's role without ssm:GetParameter (the template's conditional grant taken out)."""
    yield from openai_stack(tmp_path_factory, endpoint, LOCAL_IAM_REVOKE="AgentFunction:ssm:GetParameter")


def test_the_local_stack_runs_the_agent_on_the_endpoint_with_the_key_from_ssm(stack, endpoint):
    # Given the local stack on an OpenAI-compatible endpoint with a key
    before = len(endpoint.requests)
    with stack.ws() as client:
        # When a customer asks about order 1042
        events = client.ask(new_thread("openai"), "What is the status of order 1042?")

    # Then the agent called get_order_status and streamed the endpoint's answer (chunks within STREAM_FLUSH_MS merge)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert [(c["tool"], c["args"]) for c in calls] == [("get_order_status", {"order_id": "1042"})]
    assert tokens(events) == "".join(ANSWER)
    assert events[-1]["type"] == "message_complete"

    # And each request named the model and carried the key the agent read from SSM
    requests = endpoint.requests[before:]
    assert [r.body["model"] for r in requests] == ["qwen2.5-coder"] * 2
    assert [r.headers["authorization"] for r in requests] == [f"Bearer {KEY}"] * 2


def test_without_the_ssm_grant_the_turn_fails_as_in_aws(stack_without_grant, endpoint):
    # Given the agent's role without its grant on the key's parameter
    before = len(endpoint.requests)
    with stack_without_grant.ws() as client:
        # When a customer asks about order 1042
        events = client.ask(new_thread("openai-denied"), "What is the status of order 1042?")

    # Then the turn ends in an error, the endpoint was never called, and the denial is the agent's SSM read
    assert events[-1]["type"] == "error"
    assert len(endpoint.requests) == before
    denial = (
        "assumed-role/AgentFunctionRole/AgentFunction is not authorized to perform: ssm:GetParameter on resource: "
        "arn:aws:ssm:us-east-1:123456789012:parameter/smart-support/openai-api-key"
    )
    assert denial in stack_without_grant.log()

"""Settings per process kind: read from the environment once, and a bad environment named at cold start."""

from __future__ import annotations

import pytest

from smart_support.settings import (
    AgentSettings,
    ApiSettings,
    AuthorizerSettings,
    ConnectSettings,
    InvalidSettings,
    MessageSettings,
    WorkflowTaskSettings,
    load_settings,
)

TEMPLATE_GLOBALS = {  # what template.yaml's Globals give every function
    "STAGE": "dev",
    "CONVERSATIONS_TABLE": "smart-support-conversations",
    "ORDERS_TABLE": "smart-support-orders",
    "CHECKPOINTS_TABLE": "smart-support-checkpoints",
    "SESSION_TTL_SECONDS": "600",
    "APPROVAL_TIMEOUT_SECONDS": "120",
    "ALLOW_ANONYMOUS": "false",
    "AUTH_SECRET_PARAMETER": "/smart-support/dev/auth-secret",
    "WEBSOCKET_ENDPOINT": "https://abc123.execute-api.us-east-1.amazonaws.com/dev",
}
SETTINGS_VARIABLES = (
    *TEMPLATE_GLOBALS,
    "STATE_MACHINE_ARN",
    "AUTH_SECRET",
    "MODEL_PROVIDER",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_PARAMETER",
    "OFFLINE_TOKEN_DELAY_MS",
)


@pytest.fixture
def environment(settings_environment):
    """A clean slate: none of the settings' variables set, nothing cached."""
    settings_environment.unset(*SETTINGS_VARIABLES)
    return settings_environment


def test_a_missing_variable_is_named(environment):
    # Given a function environment without CONVERSATIONS_TABLE
    environment(**{k: v for k, v in TEMPLATE_GLOBALS.items() if k != "CONVERSATIONS_TABLE"})

    # When the connect function loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(ConnectSettings)

    # Then the error names the variable
    assert str(error.value) == "ConnectSettings: CONVERSATIONS_TABLE: field required"


def test_a_bad_integer_is_named_without_its_value(environment):
    # Given a session TTL that is not a number, and a message function without its state machine
    environment(**TEMPLATE_GLOBALS | {"SESSION_TTL_SECONDS": "thirty minutes"})

    # When the message function loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(MessageSettings)

    # Then both variables are named, and the bad value is not echoed
    message = str(error.value)
    assert "SESSION_TTL_SECONDS: input should be a valid integer" in message
    assert "STATE_MACHINE_ARN: field required" in message
    assert "thirty minutes" not in message


def test_a_value_out_of_range_is_refused(environment):
    # Given an approval timeout of zero
    environment(**TEMPLATE_GLOBALS | {"APPROVAL_TIMEOUT_SECONDS": "0"})

    # When the workflow tasks load their settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(WorkflowTaskSettings)

    # Then the variable is named
    assert "APPROVAL_TIMEOUT_SECONDS: input should be greater than 0" in str(error.value)


def test_a_good_environment_gives_each_kind_its_fields_once(environment):
    # Given the template's environment plus the message function's own variable
    environment(**TEMPLATE_GLOBALS, STATE_MACHINE_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:turns")

    # When the message and authorizer functions load their settings
    message = load_settings(MessageSettings)
    authorizer = load_settings(AuthorizerSettings)

    # Then each kind has the typed values, and a second load is the same object (validated once)
    assert message.conversations_table == "smart-support-conversations"
    assert message.session_ttl_seconds == 600
    assert message.state_machine_arn.endswith(":turns")
    assert message.websocket_endpoint.startswith("https://")
    assert authorizer.allow_anonymous is False
    assert authorizer.auth_secret is None
    assert authorizer.auth_secret_parameter == "/smart-support/dev/auth-secret"
    assert load_settings(MessageSettings) is message


def test_defaults_apply_and_an_empty_variable_counts_as_unset(environment):
    # Given only the table and the @connections endpoint, and an empty SESSION_TTL_SECONDS
    environment(CONVERSATIONS_TABLE="t", WEBSOCKET_ENDPOINT="https://x.example/dev", SESSION_TTL_SECONDS="")

    # When the API loads its settings
    settings = load_settings(ApiSettings)

    # Then the default TTL applies
    assert settings.session_ttl_seconds == 1800


AGENT_ENVIRONMENT = TEMPLATE_GLOBALS | {"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:t"}


def test_the_openai_provider_without_a_base_url_fails_at_cold_start(environment):
    # Given the agent's environment with MODEL_PROVIDER=openai and no OPENAI_BASE_URL
    environment(**AGENT_ENVIRONMENT, MODEL_PROVIDER="openai")

    # When the agent function loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(AgentSettings)

    # Then the error names the missing variable and what it should hold
    assert "OPENAI_BASE_URL is required when MODEL_PROVIDER is openai" in str(error.value)
    assert "/v1" in str(error.value)


def test_the_openai_base_url_must_be_http(environment):
    # Given an OPENAI_BASE_URL without a scheme
    environment(**AGENT_ENVIRONMENT, MODEL_PROVIDER="openai", OPENAI_BASE_URL="127.0.0.1:8081/v1")

    # When the agent function loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(AgentSettings)

    # Then the error says what the variable must be, without echoing it
    assert "OPENAI_BASE_URL must be an http:// or https:// URL" in str(error.value)
    assert "127.0.0.1:8081" not in str(error.value)


def test_the_openai_provider_reads_its_endpoint_model_and_key(environment):
    # Given an OpenAI-compatible endpoint, a model name, a key parameter and (locally) a key
    environment(
        **AGENT_ENVIRONMENT,
        MODEL_PROVIDER="openai",
        OPENAI_BASE_URL="http://127.0.0.1:8081/v1",
        OPENAI_MODEL="qwen2.5-coder",
        OPENAI_API_KEY_PARAMETER="/smart-support/dev/openai-api-key",
        OPENAI_API_KEY="sk-local-0123456789",
    )

    # When the agent function loads its settings
    settings = load_settings(AgentSettings)

    # Then each is read, and the key never shows in the settings' repr (logged at cold start)
    assert (settings.model_provider, settings.openai_base_url, settings.openai_model) == (
        "openai",
        "http://127.0.0.1:8081/v1",
        "qwen2.5-coder",
    )
    assert settings.openai_api_key_parameter == "/smart-support/dev/openai-api-key"
    assert settings.openai_api_key == "sk-local-0123456789"
    assert "sk-local" not in repr(settings)


def test_other_providers_need_no_openai_settings(environment):
    # Given the agent's environment on Bedrock, with OpenAI's variables empty (as the template sets them)
    environment(**AGENT_ENVIRONMENT, MODEL_PROVIDER="bedrock", OPENAI_BASE_URL="", OPENAI_API_KEY_PARAMETER="")

    # When the agent function loads its settings
    settings = load_settings(AgentSettings)

    # Then they load, with the OpenAI settings unset
    assert settings.model_provider == "bedrock"
    assert (settings.openai_base_url, settings.openai_api_key_parameter, settings.openai_model) == (None, None, "local")

"""`python -m local`'s settings: the functions' variables with the local stack's own defaults, checked at start."""

from __future__ import annotations

import pytest

from local.settings import LocalStackSettings
from smart_support.settings import InvalidSettings, env_name, load_settings


@pytest.fixture
def environment(settings_environment):
    """A clean slate: none of the local stack's variables set, nothing cached."""
    settings_environment.unset(*(env_name(LocalStackSettings, name) for name in LocalStackSettings.model_fields))
    return settings_environment


def test_the_local_stack_reads_the_same_variables_with_its_own_defaults(environment):
    # Given an empty environment, then one with a port, a TTL and anonymous access off
    defaults = load_settings(LocalStackSettings)
    environment(PORT="3456", SESSION_TTL_SECONDS="5", ALLOW_ANONYMOUS="false", SEED_DEMO_DATA="false")

    # When it loads again
    configured = load_settings(LocalStackSettings)

    # Then the defaults are the documented ones, and the variables override them
    assert (defaults.host, defaults.port, defaults.allow_anonymous, defaults.model_provider) == (
        "127.0.0.1",
        3000,
        True,
        "offline",
    )
    assert (defaults.session_ttl_seconds, defaults.approval_timeout_seconds, defaults.log_level) == (
        1800,
        900,
        "WARNING",
    )
    assert defaults.auth_secret and defaults.seed_demo_data is True
    assert configured.base_url == "http://127.0.0.1:3456"
    assert (configured.session_ttl_seconds, configured.allow_anonymous, configured.seed_demo_data) == (5, False, False)


def test_the_local_stack_refuses_the_openai_provider_without_a_base_url(environment):
    # Given `make dev` asked for the openai provider without saying where it is
    environment(MODEL_PROVIDER="openai")

    # When the local stack loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(LocalStackSettings)

    # Then it names OPENAI_BASE_URL (the stack never boots with a model it cannot reach)
    assert "OPENAI_BASE_URL is required" in str(error.value)


def test_the_local_stack_refuses_to_leave_loopback_with_the_dev_secret(environment):
    # Given HOST set beyond this machine, and no AUTH_SECRET of its own
    environment(HOST="0.0.0.0")

    # When the local stack loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(LocalStackSettings)

    # Then it says why, and with a secret of its own it loads
    assert "HOST=0.0.0.0 exposes the stack beyond this machine: set AUTH_SECRET" in str(error.value)
    environment(AUTH_SECRET="s" * 32)
    assert load_settings(LocalStackSettings).host == "0.0.0.0"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_off_loopback_a_secret_shorter_than_32_bytes_is_refused(environment, host):
    # Given HOST beyond this machine and a secret of 31 bytes (é is two)
    environment(HOST=host, AUTH_SECRET="é" + "s" * 29)

    # When the local stack loads its settings
    with pytest.raises(InvalidSettings) as error:
        load_settings(LocalStackSettings)

    # Then it refuses, naming both settings
    assert f"HOST={host}" in str(error.value) and "AUTH_SECRET" in str(error.value) and "32 bytes" in str(error.value)


def test_off_loopback_anonymous_access_is_off_and_asking_for_it_is_refused(environment):
    # Given HOST beyond this machine with a secret of 32 bytes, anonymous access left at its default
    environment(HOST="0.0.0.0", AUTH_SECRET="s" * 32)

    # When the local stack loads its settings
    settings = load_settings(LocalStackSettings)

    # Then it starts with anonymous access off
    assert (settings.host, settings.allow_anonymous) == ("0.0.0.0", False)
    assert settings.template_parameters("local")["AllowAnonymous"] == "false"

    # And asking for anonymous access there is refused, naming both settings
    environment(ALLOW_ANONYMOUS="true")
    with pytest.raises(InvalidSettings) as error:
        load_settings(LocalStackSettings)
    assert "HOST=0.0.0.0" in str(error.value) and "ALLOW_ANONYMOUS" in str(error.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_on_loopback_any_secret_and_anonymous_access_are_allowed(environment, host):
    # Given HOST on this machine, a short secret and anonymous access asked for
    environment(HOST=host, AUTH_SECRET="a", ALLOW_ANONYMOUS="true")

    # When the local stack loads its settings, then it keeps both
    settings = load_settings(LocalStackSettings)
    assert (settings.auth_secret, settings.allow_anonymous) == ("a", True)


@pytest.mark.parametrize(
    ("host", "header", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1:3000", True),
        ("127.0.0.1", "LOCALHOST:3000", True),
        ("127.0.0.1", "[::1]:3000", True),
        ("127.0.0.1", "localhost", True),
        ("127.0.0.1", "localhost:3001", False),
        ("127.0.0.1", "localhost:abc", False),
        ("127.0.0.1", "rebind.evil.example:3000", False),
        ("127.0.0.1", "evil@localhost:3000", False),
        ("127.0.0.1", "", False),
        ("0.0.0.0", "0.0.0.0:3000", False),
        ("0.0.0.0", "localhost:3000", True),
        ("192.168.1.20", "192.168.1.20:3000", True),
        ("devbox.lan", "DevBox.lan:3000", True),
    ],
)
def test_a_requests_host_must_name_this_stack(environment, host, header, allowed):
    # Given a stack on HOST (beyond loopback with a secret of its own)
    environment(HOST=host, AUTH_SECRET="s" * 32)
    settings = load_settings(LocalStackSettings)

    # When a request names `header` as its Host, then only loopback names and the configured host are allowed
    assert settings.allows_host(header) is allowed


@pytest.mark.parametrize(
    ("host", "base_url"),
    [("127.0.0.1", "http://127.0.0.1:3000"), ("0.0.0.0", "http://127.0.0.1:3000"), ("::1", "http://[::1]:3000")],
)
def test_the_stacks_urls_name_a_host_its_clients_can_reach(environment, host, base_url):
    environment(HOST=host, AUTH_SECRET="s" * 32)
    assert load_settings(LocalStackSettings).base_url == base_url


def test_websocket_connections_may_be_made_shorter_lived_than_api_gateways_never_longer(environment):
    # Given the default, a test's 2 seconds, and more than API Gateway's 2 hours
    assert load_settings(LocalStackSettings).websocket_max_connection_seconds == 7200
    environment(WEBSOCKET_MAX_CONNECTION_SECONDS="2")
    assert load_settings(LocalStackSettings).websocket_max_connection_seconds == 2

    # Then a longer one is refused, naming the variable
    environment(WEBSOCKET_MAX_CONNECTION_SECONDS="7201")
    with pytest.raises(InvalidSettings) as error:
        load_settings(LocalStackSettings)
    assert "WEBSOCKET_MAX_CONNECTION_SECONDS" in str(error.value)

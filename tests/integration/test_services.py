"""The composition root: services built from the settings they are given, once per settings object."""

from __future__ import annotations

from smart_support import services
from smart_support.settings import ApiSettings, ConnectSettings, MessageSettings
from smart_support.store.sessions import SessionStore


def table_and_ttl(store: object) -> tuple[str, int]:
    """Where a session store built by services keeps its sessions, and for how long."""
    assert isinstance(store, SessionStore)
    return store.table_name, store.ttl_seconds


def test_each_settings_object_gets_its_own_services_built_once(aws):
    # Given two functions' settings in one process (as in the local stack), and an API on another table
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
    connect = ConnectSettings(conversations_table="conversations", session_ttl_seconds=600)
    api = ApiSettings(conversations_table="conversations", session_ttl_seconds=600, websocket_endpoint=endpoint)
    other = ApiSettings(conversations_table="another-table", websocket_endpoint=endpoint)

    # When each asks for its session store, twice
    # Then each settings object gets its own, built once, on its own table and TTL
    assert services.sessions(connect) is services.sessions(connect)
    assert services.sessions(api) is services.sessions(
        ApiSettings(conversations_table="conversations", session_ttl_seconds=600, websocket_endpoint=endpoint)
    )
    assert services.sessions(api) is not services.sessions(connect)
    assert table_and_ttl(services.sessions(api)) == ("conversations", 600)
    assert table_and_ttl(services.sessions(other)) == ("another-table", 1800)


def test_the_message_service_starts_executions_and_decisions_need_no_state_machine(aws):
    # Given the message function's settings
    settings = MessageSettings(
        conversations_table="conversations",
        websocket_endpoint="https://abc123.execute-api.us-east-1.amazonaws.com/dev",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:turns",
    )

    # When its chat service is built
    chat = services.chat(settings)

    # Then its workflow starts that state machine, and approvals share its stores
    assert chat.workflow.state_machine_arn == settings.state_machine_arn
    assert chat.approvals.sessions is chat.sessions and chat.approvals.store is chat.approval_store
    assert services.chat(settings) is chat

"""The local stack's exposure: the invoke endpoint, foreign browser origins, CORS, and binding beyond loopback
(docs/security.md, "The local stack's own guards")."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.e2e.conftest import ROOT, Stack, free_port, start_stack

pytestmark = pytest.mark.e2e
PARTNER = "https://partner.example"


@pytest.fixture(scope="module")
def exposed(tmp_path_factory) -> Iterator[Stack]:
    """A stack that also lets one other browser origin in."""
    yield from start_stack(tmp_path_factory, "exposure", ALLOWED_ORIGINS=PARTNER)


def request(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_the_invoke_endpoint_answers_only_the_stacks_own_state_machine(exposed):
    # Given a local process that calls the Lambda invoke endpoint directly (skipping the authorizer and approvals)
    url = f"{exposed.base}/2015-03-31/functions/AgentFunction/invocations"
    for headers in ({}, {"X-Smart-Support-Invoke-Key": "guess"}):
        status, _ = request(url, "POST", {"Content-Type": "application/json", **headers}, b'{"task": "run"}')
        # Then it is refused
        assert status == 403
    # While the state machine's own calls still work (a whole turn runs through them)
    with exposed.ws() as client:
        assert client.ask("t-exposure", "Hello")[-1]["type"] == "message_complete"


def test_websocket_handshakes_from_foreign_origins_are_refused(exposed):
    ws_url = f"ws://127.0.0.1:{exposed.port}/ws"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, origin=Origin("https://evil.example"), open_timeout=10)
    assert refused.value.response.status_code == 403
    for origin in (exposed.base, PARTNER):
        with connect(ws_url, origin=Origin(origin), open_timeout=10) as ws:
            ws.send('{"type": "ping"}')
            assert ws.recv(timeout=10) == '{"type":"pong"}'


def test_cors_grants_only_the_allowlist(exposed):
    url = f"{exposed.base}/api/v1/health"
    _, evil = request(url, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil
    _, partner = request(url, headers={"Origin": PARTNER})
    assert partner["Access-Control-Allow-Origin"] == PARTNER


SECRET = "an exposed stack's secret, 32+ bytes long"


def run_local(**env: str) -> subprocess.CompletedProcess[str]:
    """`python -m local` with these variables, until it exits (or 60 s pass)."""
    environment = {**os.environ, "PORT": str(free_port()), **env}
    environment["PYTHONPATH"] = f"{ROOT / 'layers/common/python'}{os.pathsep}{ROOT}"
    command = [sys.executable, "-m", "local"]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False)


def test_binding_beyond_loopback_refuses_the_default_secret():
    done = run_local(HOST="0.0.0.0", AUTH_SECRET="")
    assert done.returncode != 0
    assert "AUTH_SECRET" in done.stderr and "HOST=0.0.0.0" in done.stderr


def test_binding_beyond_loopback_refuses_a_short_secret_and_asked_for_anonymous_access():
    # Given HOST beyond loopback with a secret of one byte, then a long one with anonymous access asked for
    short = run_local(HOST="0.0.0.0", AUTH_SECRET="a")
    anonymous = run_local(HOST="0.0.0.0", AUTH_SECRET=SECRET, ALLOW_ANONYMOUS="true")

    # Then neither starts, and each names both settings
    assert short.returncode != 0 and "HOST=0.0.0.0" in short.stderr and "AUTH_SECRET" in short.stderr
    assert anonymous.returncode != 0 and "HOST=0.0.0.0" in anonymous.stderr and "ALLOW_ANONYMOUS" in anonymous.stderr


@pytest.fixture(scope="module")
def beyond_loopback(tmp_path_factory) -> Iterator[Stack]:
    """A stack bound to every interface with a secret of its own, anonymous access left at its default."""
    for stack in start_stack(tmp_path_factory, "beyond", HOST="0.0.0.0", AUTH_SECRET=SECRET):
        stack.secret = SECRET
        yield stack


def test_binding_beyond_loopback_turns_anonymous_access_off(beyond_loopback):
    # Given a stack bound beyond loopback with a long secret
    # When a client connects without a token, or calls the API without one
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{beyond_loopback.port}/ws", open_timeout=10)
    status, body = beyond_loopback.http("GET", "/api/v1/sessions")

    # Then both are refused, while a token signed with its secret gets in
    assert refused.value.response.status_code == 403  # the authorizer's Deny, as API Gateway answers it
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    with beyond_loopback.ws(beyond_loopback.token("c-beyond")) as client:
        client.send({"type": "ping"})
        assert client.recv()["type"] == "pong"


REBOUND = "rebind.evil.example"  # a name whose DNS an attacker pointed at 127.0.0.1 (DNS rebinding)
EVERY_ROUTE = [
    ("GET", "/"),
    ("GET", "/console"),
    ("GET", "/config.json"),
    ("GET", "/static/chat.js"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/sessions"),
    ("GET", "/local/api/v1/sessions"),
    ("GET", "/_local/stats"),
    ("GET", "/_local/executions?prefix=t"),
    ("GET", "/ws"),
    ("POST", "/local/@connections/abc%3D"),
    ("POST", "/2015-03-31/functions/AgentFunction/invocations"),
]


def test_requests_naming_another_host_are_refused_on_every_route(exposed):
    # Given a page on a rebound name (or any client) sending the stack a Host that is not its own
    for host in (
        f"{REBOUND}:{exposed.port}",
        REBOUND,
        f"localhost.{REBOUND}:{exposed.port}",
        f"localhost:{exposed.port + 1}",
    ):
        for method, path in EVERY_ROUTE:
            # When it calls any route
            status, _ = request(f"{exposed.base}{path}", method, {"Host": host}, b"{}" if method == "POST" else None)

            # Then it is refused before anything runs
            assert status == 403, (host, path)


def test_loopback_names_with_the_stacks_port_are_served(exposed):
    for host in (f"localhost:{exposed.port}", f"127.0.0.1:{exposed.port}", f"[::1]:{exposed.port}", "localhost"):
        for path in ("/api/v1/health", "/_local/stats", "/config.json", "/"):
            assert request(f"{exposed.base}{path}", headers={"Host": host})[0] == 200, (host, path)


def test_config_json_and_the_pages_name_the_configured_host_not_the_requests(exposed):
    # Given a page asked for under another loopback name than the one the stack is configured with
    url = f"{exposed.base}/config.json"
    req = urllib.request.Request(url, headers={"Host": f"localhost:{exposed.port}"})
    with urllib.request.urlopen(req, timeout=10) as response:
        config, csp = json.loads(response.read()), response.headers["Content-Security-Policy"]

    # Then config.json and the content security policy name the configured host and port, never the Host header
    own = f"127.0.0.1:{exposed.port}"
    assert (config["wsUrl"], config["apiUrl"]) == (f"ws://{own}/ws", f"http://{own}/api/v1")
    assert f"ws://{own}" in csp and f"http://{own}" in csp and "localhost" not in csp

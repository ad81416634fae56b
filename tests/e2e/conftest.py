"""Starts the real local stack (python -m local) and gives tests real WebSocket and HTTP clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from local.client import http_request
from local.inprocess import InProcessStack, free_port
from local.settings import LOCAL_AUTH_SECRET
from smart_support.auth.tokens import Role, mint_token

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    """A running local stack."""

    port: int
    process: subprocess.Popen[bytes] | None  # None for a stack served in this process (local.inprocess)
    log_path: Path
    secret: str = LOCAL_AUTH_SECRET

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, sub: str = "demo-customer", role: Role = "customer", **kw: Any) -> str:
        return mint_token(self.secret, sub, role, **kw)

    def ws(self, token: str | None = None) -> Client:
        url = f"ws://127.0.0.1:{self.port}/ws" + (f"?token={token}" if token else "")
        return Client(connect(url, open_timeout=10, max_size=2**20))

    def http(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        return http_request(self.base, method, path, token, body)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Client:
    """A real WebSocket client with helpers to read events."""

    conn: ClientConnection
    seen: list[dict[str, Any]] = field(default_factory=list)

    def send(self, payload: dict[str, Any] | str) -> None:
        self.conn.send(payload if isinstance(payload, str) else json.dumps(payload))

    def recv(self, timeout: float = 15) -> dict[str, Any]:
        event = json.loads(self.conn.recv(timeout=timeout))
        self.seen.append(event)
        return event

    def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = 30) -> list[dict[str, Any]]:
        """Events up to and including the first one for which `done` is true."""
        deadline = time.monotonic() + timeout
        events: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event; got {events}")
            event = self.recv(timeout=remaining)
            events.append(event)
            if done(event):
                return events

    def ask(self, thread_id: str, content: str, **extra: Any) -> list[dict[str, Any]]:
        """Send a message and collect its turn until message_complete, interrupt or error."""
        self.send({"type": "message", "thread_id": thread_id, "content": content, **extra})
        return self.until(lambda e: e["type"] in ("message_complete", "interrupt", "error"))

    def decide(self, thread_id: str, interrupt: dict[str, Any], approved: bool) -> list[dict[str, Any]]:
        """Answer an `interrupt` and collect the rest of the turn until message_complete or error."""
        self.send(
            {
                "type": "interrupt_response",
                "thread_id": thread_id,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": approved,
            }
        )
        return self.until(lambda e: e["type"] in ("message_complete", "error"))

    def quiet(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Whatever arrives within `seconds` (to check nothing extra was sent)."""
        events = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                events.append(self.recv(timeout=remaining))
            except TimeoutError:
                break
        return events

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def inprocess_stack() -> Iterator[InProcessStack]:
    """The local stack in this process (its tables and functions reachable here), streaming without delay, no rate
    limits; stopped when the generator is closed."""
    stack = InProcessStack(
        OFFLINE_TOKEN_DELAY_MS="0", RATE_LIMIT_TURNS_PER_MINUTE="100000", RATE_LIMIT_FRAMES_PER_SECOND="100000"
    )
    stack.start()
    yield stack
    stack.stop()


def start_stack(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[Stack]:
    port = free_port()
    log_path = tmp_path_factory.mktemp(name) / "stack.log"
    environment = {
        **os.environ,
        "PORT": str(port),
        "OFFLINE_TOKEN_DELAY_MS": "0",
        "LOG_LEVEL": "INFO",
        # Many tests share a principal (the anonymous demo-customer); the limits have tests of their own.
        "RATE_LIMIT_TURNS_PER_MINUTE": "100000",
        "RATE_LIMIT_FRAMES_PER_SECOND": "100000",
        "PYTHONPATH": f"{ROOT / 'layers/common/python'}{os.pathsep}{ROOT}",
        **env,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"], cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    stack = Stack(port, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited:\n{stack.log()}")
        try:
            if stack.http("GET", "/api/v1/health")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"local stack did not start:\n{stack.log()}")
    yield stack
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The local stack with its defaults (offline model, anonymous allowed), tokens streamed without delay."""
    yield from start_stack(tmp_path_factory, "stack")


@pytest.fixture(scope="session")
def short_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with a 3-second session TTL and approval timeout, and anonymous access off."""
    yield from start_stack(
        tmp_path_factory, "short", SESSION_TTL_SECONDS="3", APPROVAL_TIMEOUT_SECONDS="3", ALLOW_ANONYMOUS="false"
    )


def tokens(events: list[dict[str, Any]], agent: str | None = None) -> str:
    """The streamed answer text of some events (of one agent, if given), as a client shows it: `answer_restart` drops
    the answer being streamed (the tokens since the last other event), and the tokens that follow replace it."""
    answers: list[tuple[str, str]] = []
    streaming = False
    for event in events:
        if event["type"] == "token":
            if not streaming or answers[-1][0] != event["agent"]:
                answers.append((event["agent"], ""))
            answers[-1] = (event["agent"], answers[-1][1] + event["content"])
            streaming = True
        else:
            if event["type"] == "answer_restart" and streaming:
                answers.pop()
            streaming = False
    return "".join(text for speaker, text in answers if agent is None or speaker == agent)


def executions(stack: Stack, thread_id: str, turn: int) -> list[dict[str, Any]]:
    """The Step Functions executions of one turn of a thread (any incarnation), by their deterministic names."""
    from smart_support.turns.stepfunctions import execution_prefix

    runs = stack.http("GET", f"/_local/executions?prefix={execution_prefix(thread_id)}")[1]
    return [run for run in runs if run["name"].endswith(f"-{turn}")]


def new_thread(prefix: str = "t") -> str:
    return f"{prefix}-{time.time_ns()}"

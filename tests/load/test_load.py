"""50 concurrent customer sessions through the local stack: every turn completes, nothing leaks, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.conftest import Stack, start_stack

pytestmark = [pytest.mark.load, pytest.mark.e2e]

SESSIONS = 50
TURN_TIMEOUT = 60


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own (the approvals change order 1043's address), logging warnings only."""
    yield from start_stack(tmp_path_factory, "load", LOG_LEVEL="WARNING")


@dataclass
class Session:
    """One customer on one WebSocket, with a script of turns."""

    index: int
    customer: str
    token: str
    script: list[tuple[str, str, bool | None]]  # (thread, content, decision if it asks for approval)
    events: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    turns: Counter[str] = field(default_factory=Counter)
    approvals: int = 0

    @property
    def threads(self) -> set[str]:
        return {thread for thread, _, _ in self.script}


def script_for(index: int, stack: Stack) -> Session:
    """Mixed sessions: demo-customer and c-2001 ask for approvals, the rest ask questions."""
    thread = f"load-{index:02d}-{time.time_ns()}"
    if index % 5 == 0:  # approves an address change of 1043 (it stays processing, so every one can)
        customer = "demo-customer"
        script = [
            (f"{thread}-a", "What is the status of order 1042?", None),
            (f"{thread}-a", "When will it arrive?", None),
            (f"{thread}-b", f"Please change the address of order 1043 to {index} Load Street, Springfield", True),
        ]
    elif index % 5 == 1:  # rejects cancelling 2001 (a rejection changes nothing)
        customer = "c-2001"
        script = [
            (f"{thread}-a", "What is the status of order 2001?", None),
            (f"{thread}-a", "Please cancel order 2001", False),
            (f"{thread}-a", "Thanks!", None),
        ]
    else:
        customer = f"c-load-{index:02d}"
        script = [
            (f"{thread}-a", "Hello!", None),
            (f"{thread}-a", "How long does shipping take?", None),
            (f"{thread}-b", "What is the status of order 1042?", None),  # someone else's: not found, no leak
        ]
    return Session(index, customer, stack.token(customer), script)


async def recv(ws: ClientConnection, session: Session) -> dict[str, Any]:
    event = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT))
    session.events.append(event)
    return event


async def until(ws: ClientConnection, session: Session, *types: str) -> dict[str, Any]:
    while True:
        event = await recv(ws, session)
        assert event["type"] != "error", f"session {session.index}: {event}"
        if event["type"] in types:
            return event


async def run_session(stack: Stack, session: Session, start: asyncio.Event) -> None:
    async with connect(f"ws://127.0.0.1:{stack.port}/ws?token={session.token}", open_timeout=30, max_size=2**20) as ws:
        await start.wait()
        for thread, content, decision in session.script:
            session.turns[thread] += 1
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "thread_id": thread, "content": content}))
            end = await until(ws, session, "message_complete", "interrupt")
            if decision is not None:
                assert end["type"] == "interrupt", f"session {session.index}: expected an approval, got {end}"
                session.approvals += 1
                await ws.send(
                    json.dumps(
                        {
                            "type": "interrupt_response",
                            "thread_id": thread,
                            "interrupt_id": end["interrupt_id"],
                            "approved": decision,
                        }
                    )
                )
                resolved = await until(ws, session, "interrupt_resolved")
                assert resolved["approved"] is decision and resolved["decided_by"] == "customer"
                end = await until(ws, session, "message_complete")
            assert end["type"] == "message_complete"
            session.latencies.append(time.perf_counter() - started)


async def run_all(stack: Stack, sessions: list[Session]) -> float:
    start = asyncio.Event()
    tasks = [asyncio.create_task(run_session(stack, s, start)) for s in sessions]
    await asyncio.sleep(0.5)  # every connection is open before the first message
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


def p95(values: list[float]) -> float:
    data = sorted(values)
    return data[max(0, -(-95 * len(data) // 100) - 1)]


def test_fifty_concurrent_sessions(load_stack):
    # Given 50 customers, each with three turns; a fifth approve an address change, a fifth reject a cancel
    sessions = [script_for(i, load_stack) for i in range(SESSIONS)]

    # When they all talk at once
    elapsed = asyncio.run(run_all(load_stack, sessions))

    # Then every turn completed, exactly once each
    turns = sum(len(s.latencies) for s in sessions)
    assert turns == SESSIONS * 3
    for session in sessions:
        completes = Counter(e["thread_id"] for e in session.events if e["type"] == "message_complete")
        assert completes == session.turns, f"session {session.index}: {completes} != {session.turns}"
        # No event reached the wrong connection
        strays = [e for e in session.events if e.get("thread_id") not in session.threads]
        assert not strays, f"session {session.index} got another session's events: {strays[:3]}"
    assert sum(s.approvals for s in sessions) == 2 * SESSIONS // 5

    # And nothing was lost: each thread's transcript has every turn, with an answer to each
    for session in sessions:
        for thread in session.threads:
            status, body = load_stack.http("GET", f"/api/v1/sessions/{thread}/messages", session.token)
            assert status == 200, body
            entries = body["messages"]
            users = [e for e in entries if e["role"] == "user"]
            assert len(users) == session.turns[thread], f"{thread}: {entries}"
            answered = {e["turn"] for e in entries if e["role"] == "assistant" and e.get("content")}
            assert answered == {e["turn"] for e in users}, f"{thread}: {entries}"
            decisions = [e for e in entries if e["role"] == "decision"]
            assert len(decisions) == sum(1 for t, _, d in session.script if t == thread and d is not None)
        # Another customer's thread stays invisible
        other = sessions[(session.index + 2) % SESSIONS]
        if other.customer != session.customer:
            assert (
                load_stack.http("GET", f"/api/v1/sessions/{next(iter(other.threads))}/messages", session.token)[0]
                == 404
            )

    latencies = [v for s in sessions for v in s.latencies]
    print(
        f"\nload: {SESSIONS} sessions, {turns} turns ({sum(s.approvals for s in sessions)} with approval) "
        f"in {elapsed:.1f} s: {turns / elapsed:.1f} turns/s, turn latency p50 "
        f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms, p95 {p95(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )

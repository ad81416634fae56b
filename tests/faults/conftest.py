"""Stacks for the fault tests: the real local stack in a subprocess, and one in this process for monkeypatching."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.inprocess import InProcessStack
from tests.e2e.conftest import Stack, executions, inprocess_stack, start_stack


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`python -m local` streaming at 30 ms a word, so a turn lasts long enough to be interrupted."""
    yield from start_stack(tmp_path_factory, "faults", OFFLINE_TOKEN_DELAY_MS="30", LOG_LEVEL="WARNING")


@pytest.fixture(scope="module")
def inproc() -> Iterator[InProcessStack]:
    """The local stack in this process: its functions' modules can be patched, their invocations counted."""
    yield from inprocess_stack()


@pytest.fixture(scope="module")
def inproc_client(inproc: InProcessStack) -> Stack:
    """The e2e helpers (ws(), http(), token()) pointed at the in-process stack."""
    return Stack(inproc.port, None, Path(os.devnull), inproc.secret)


__all__ = ["executions"]


def function_module(stack: InProcessStack, logical_id: str) -> Any:
    """The loaded handler module of one function (what a cold start imported)."""
    function = stack.stack.functions.functions[logical_id]
    if function.module is None:
        function.load()
    return function.module


def wait_for_status(stack: Stack, thread_id: str, token: str, status: str = "idle", timeout: float = 15) -> dict:
    """Poll GET /api/v1/sessions/{id} until the thread has `status`."""
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        code, body = stack.http("GET", f"/api/v1/sessions/{thread_id}", token)
        if code == 200 and body["status"] == status:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{thread_id} never became {status}: {body}")


def transcript(stack: Stack, thread_id: str, token: str) -> list[dict]:
    """The replayed transcript of a thread."""
    code, body = stack.http("GET", f"/api/v1/sessions/{thread_id}/messages", token)
    assert code == 200, body
    return body["messages"]


def converse_at_once(
    stack: Stack, converse: Callable[[Stack, int, dict[int, Any]], None], count: int, timeout: float = 180
) -> dict[int, Any]:
    """Run `count` conversations at once (each `converse(stack, n, results)`); what each put in `results`.
    A conversation that failed fails the test, with the stack's fault counts and the end of its log."""
    results: dict[int, Any] = {}
    failures: list[BaseException] = []

    def conversation(n: int) -> None:
        try:
            converse(stack, n, results)
        except BaseException as exc:  # reported below with the stack's log
            failures.append(exc)

    workers = [threading.Thread(target=conversation, args=(n,)) for n in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    assert not failures, f"{failures[0]!r}\n{stack.http('GET', '/_local/stats')[1]}\n{stack.log()[-3000:]}"
    assert len(results) == count
    return results

"""Fidelity patch: a Step Functions task token answers once, and never after its task ended (moto 5.2.5).

AWS: SendTaskSuccess/SendTaskFailure answer `TaskTimedOut` when "the task token has either expired or the task
associated with the token has already been closed" (Step Functions API reference, SendTaskSuccess, Errors). moto's
interpreter keeps a token's callback endpoint open after its state timed out (`ExecutionState._evaluate_with_timeout`
raises `EvalTimeoutError` and moves on, the endpoint still accepts a notification) and after it completed, so a
decision sent at or after the deadline answered 200 while the workflow resumed as "timed out" — exactly the lie the
approval ledger must never tell (issue 23). This module closes the endpoint when its state ends and refuses a
notification once the wait's deadline is within `DEADLINE_MARGIN_SECONDS` (the emulator must not accept what its own
timer would then discard; refusing a little early is stricter than AWS, never kinder).

Upstream: moto would mark the callback endpoint with `CallbackConsumerTimeout` when the state's timeout fires and
when the task completes (`state_task_service_callback.py`, `execute_state.py`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import moto
from moto.stepfunctions.exceptions import AWSError

WRITTEN_FOR = "5.2.5"
# The interpreter's thread must finish the state before the state's own timer fires; under load (2 cores, a dozen
# busy threads) it was seen starved for more than half a second (tests/faults/test_ledger_soak.py).
DEADLINE_MARGIN_SECONDS = 1.0

_lock = threading.Lock()
_deadlines: dict[str, float] = {}  # token -> monotonic deadline of its wait (removed when its state ends)
_tokens: dict[int, str] = {}  # id(env) of a waiting task state's frame -> its token (the original pops it at the end)
_closed: OrderedDict[str, None] = OrderedDict()  # tokens whose task ended, newest last
MAX_CLOSED = 100_000  # bounded: a long-running `make dev` never grows with the turns it served
_state = {"installed": False}


class TaskTimedOut(AWSError):
    """Step Functions' answer to a token whose task timed out or was closed."""

    TYPE = "TaskTimedOut"
    STATUS = 400

    def __init__(self) -> None:
        super().__init__("Task Timed Out")


class MotoVersionMismatch(RuntimeError):
    """The patch was written for another moto: its private symbols may have changed."""


def check_version(version: str = moto.__version__) -> None:
    """Fail loudly on a moto this patch was not written for."""
    if version != WRITTEN_FOR:
        raise MotoVersionMismatch(
            f"local/task_tokens.py patches moto {WRITTEN_FOR} internals, but moto {version} is installed: check "
            "that a timed-out or completed .waitForTaskToken task still refuses SendTaskSuccess "
            "(tests/unit/local/test_task_tokens.py), then update WRITTEN_FOR."
        )


def install() -> None:
    """Patch moto's Step Functions interpreter (idempotent)."""
    if _state["installed"]:
        return
    check_version()
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as service_callback,
    )
    from moto.stepfunctions.parser.asl.eval.callback import callback

    task_class = service_callback.StateTaskServiceCallback
    original_with_timeout = execute_state.ExecutionState._evaluate_with_timeout
    original_body = task_class._eval_body
    original_notify = callback.CallbackPoolManager.notify

    def evaluate_with_timeout(self: Any, env: Any) -> None:
        token = _token(env) if isinstance(self, task_class) else None
        if token is not None:
            self.timeout.eval(env=env)  # the same value the original evaluates next
            seconds = float(env.stack.pop())
            with _lock:
                _deadlines[token] = time.monotonic() + seconds
                _tokens[id(env)] = token
        original_with_timeout(self, env)

    def eval_body(self: Any, env: Any) -> None:
        try:
            original_body(self, env)
        finally:
            with _lock:
                token = _tokens.pop(id(env), None)
                if token is not None:
                    _deadlines.pop(token, None)
                    _closed[token] = None  # closed: later answers are TaskTimedOut
                    while len(_closed) > MAX_CLOSED:
                        _closed.popitem(last=False)

    def notify(self: Any, callback_id: str, outcome: Any) -> bool:
        with _lock:
            deadline = _deadlines.get(callback_id)
            if callback_id in _closed or (
                deadline is not None and time.monotonic() >= deadline - DEADLINE_MARGIN_SECONDS
            ):
                raise TaskTimedOut()
            return bool(original_notify(self, callback_id, outcome))

    execute_state.ExecutionState._evaluate_with_timeout = evaluate_with_timeout  # type: ignore[method-assign]
    task_class._eval_body = eval_body  # type: ignore[method-assign]
    callback.CallbackPoolManager.notify = notify  # type: ignore[method-assign]
    _state["installed"] = True


def _token(env: Any) -> str | None:
    task = env.states.context_object.context_object_data.get("Task") or {}
    token = task.get("Token")
    return str(token) if token else None

"""Fidelity: a Step Functions task token answers once, and never after its task ended.

AWS: SendTaskSuccess/SendTaskFailure answer `TaskTimedOut` when "the task token has either expired or the task
associated with the token has already been closed" (Step Functions API reference, SendTaskSuccess, Errors). moto
5.2.5's interpreter keeps a token's callback endpoint open after its state timed out
(`ExecutionState._evaluate_with_timeout` raises `EvalTimeoutError` and moves on; the endpoint still accepts a
notification) and after it completed, so a decision sent at or after the deadline answered 200 while the workflow
resumed as "timed out": the lie the approval ledger must never tell (issue 23). Here the endpoint closes when its
state ends, and a notification is refused once the wait's deadline is within `DEADLINE_MARGIN_SECONDS` (the
emulator must not accept what its own timer would then discard: refusing a little early is stricter than AWS,
never kinder). The closed tokens kept are bounded (`MAX_CLOSED`). Upstream: moto would mark the callback endpoint
with `CallbackConsumerTimeout` when the state's timeout fires and when the task completes
(`state_task_service_callback.py`, `execute_state.py`).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from typing import Any

from moto.stepfunctions.exceptions import AWSError

# The interpreter's thread must finish the state before the state's own timer fires; under load (2 cores, a dozen
# busy threads) it was seen starved for more than half a second (tests/faults/test_ledger_soak.py).
DEADLINE_MARGIN_SECONDS = 1.0
MAX_CLOSED = 100_000

_lock = threading.Lock()
_deadlines: dict[str, float] = {}  # token -> monotonic deadline of its wait (removed when its state ends)
_tokens: dict[int, str] = {}  # id(env) of a waiting task state's frame -> its token
_closed: OrderedDict[str, None] = OrderedDict()  # tokens whose task ended, newest last


class TaskTimedOut(AWSError):
    """Step Functions' answer to a token whose task timed out or was closed."""

    TYPE = "TaskTimedOut"
    STATUS = 400

    def __init__(self) -> None:
        super().__init__("Task Timed Out")


def _token(env: Any) -> str | None:
    task = env.states.context_object.context_object_data.get("Task") or {}
    token = task.get("Token")
    return str(token) if token else None


@functools.cache
def install() -> None:
    """Patch moto's Step Functions interpreter (once)."""
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
    from moto.stepfunctions.parser.asl.eval.callback import callback

    state: Any = execute_state.ExecutionState
    task: Any = state_task_service_callback.StateTaskServiceCallback
    pool: Any = callback.CallbackPoolManager
    original_with_timeout, original_body, original_notify = state._evaluate_with_timeout, task._eval_body, pool.notify

    def evaluate_with_timeout(self: Any, env: Any) -> None:
        token = _token(env) if isinstance(self, task) else None
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

    state._evaluate_with_timeout = evaluate_with_timeout
    task._eval_body = eval_body
    pool.notify = notify

"""Fidelity: a Step Functions task token answers once, and never after its task ended.

AWS: SendTaskSuccess/SendTaskFailure answer `TaskTimedOut` when "the task token has either expired or the task
associated with the token has already been closed" (Step Functions API reference, SendTaskSuccess, Errors). moto
5.2.5 keeps a token's callback endpoint open after its state timed out or completed, so a decision sent after the
deadline answered 200 while the workflow resumed as "timed out" (issue 23). Here a token closes when its state ends,
and is refused from `DEADLINE_MARGIN_SECONDS` before the wait's deadline: the emulator must not accept what its own
timer then discards (refusing a little early is stricter than AWS, never kinder). Upstream: moto would mark the
callback endpoint `CallbackConsumerTimeout` when the state's timeout fires or the task completes.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

# The interpreter's thread must finish the state before the state's own timer fires; under load (2 cores, a dozen
# busy threads) it was seen starved for more than half a second (tests/faults/test_ledger_soak.py).
DEADLINE_MARGIN_SECONDS = 1.0
MAX_CLOSED = 100_000

_lock = threading.Lock()
_deadlines: dict[str, float] = {}  # token -> monotonic deadline of its wait (removed when its state ends)
_tokens: dict[int, str] = {}  # id(env) of a waiting task state's frame -> its token
_closed: dict[str, None] = {}  # tokens whose task ended, oldest first


@functools.cache
def install() -> None:
    """Patch moto's Step Functions interpreter (once)."""
    from moto.stepfunctions.parser.api import TaskTimedOut
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
    from moto.stepfunctions.parser.asl.eval.callback import callback

    state: Any = execute_state.ExecutionState
    task: Any = state_task_service_callback.StateTaskServiceCallback
    pool: Any = callback.CallbackPoolManager
    original_with_timeout, original_body, original_notify = state._evaluate_with_timeout, task._eval_body, pool.notify

    def evaluate_with_timeout(self: Any, env: Any) -> None:
        context = env.states.context_object.context_object_data
        token = (context.get("Task") or {}).get("Token") if isinstance(self, task) else None
        if token:
            self.timeout.eval(env=env)  # the same value the original evaluates next
            seconds = float(env.stack.pop())
            with _lock:
                _deadlines[str(token)] = time.monotonic() + seconds
                _tokens[id(env)] = str(token)
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
                    if len(_closed) > MAX_CLOSED:
                        del _closed[next(iter(_closed))]

    def notify(self: Any, callback_id: str, outcome: Any) -> bool:
        with _lock:
            deadline = _deadlines.get(callback_id)
            if callback_id in _closed or (deadline and time.monotonic() >= deadline - DEADLINE_MARGIN_SECONDS):
                raise TaskTimedOut("Task Timed Out", "TaskTimedOut")  # moto's own raise of it lacks the arguments
            return bool(original_notify(self, callback_id, outcome))

    state._evaluate_with_timeout = evaluate_with_timeout
    task._eval_body = eval_body
    pool.notify = notify

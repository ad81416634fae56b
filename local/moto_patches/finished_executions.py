"""Memory: a finished Step Functions execution releases its threads, and only the newest finished ones are kept.

AWS: an execution's history is kept 90 days after it closes (Step Functions Developer Guide, "Quotas"); nothing of
a finished run stays loaded. moto 5.2.5's interpreter appends every thread it starts (three an execution) to the
module-level `moto.stepfunctions.parser.utils.TMP_THREADS` and never removes one, each holding its execution's
whole environment, and keeps every execution. Here, every `EVERY` starts, finished threads are dropped and each
state machine keeps its newest `KEPT` finished executions (nothing local reads more than the last turn's).
Upstream: moto's interpreter would remove its threads from TMP_THREADS when they end.
"""

from __future__ import annotations

import functools
from typing import Any

KEPT = 500
EVERY = 50
_started = [0]  # executions started since install


def forget_finished_threads() -> None:
    """Drop the interpreter's finished threads from TMP_THREADS (in place: modules import it by name)."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    TMP_THREADS[:] = [thread for thread in list(TMP_THREADS) if thread.is_alive()]


def retain_executions(backend: Any) -> None:
    """Forget all but the newest KEPT finished executions of each state machine."""
    for machine in backend.state_machines:
        finished = [e for e in machine.executions if getattr(e.exec_status, "value", "RUNNING") != "RUNNING"]
        gone = {id(e) for e in finished[: max(0, len(finished) - KEPT)]}
        machine.executions[:] = [e for e in machine.executions if id(e) not in gone]


@functools.cache
def install() -> None:
    """Prune threads and executions every EVERY starts (once)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    @functools.wraps(original)
    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        _started[0] += 1
        if _started[0] % EVERY == 0:
            retain_executions(self)
            forget_finished_threads()
        return original(self, *args, **kwargs)

    backend: Any = StepFunctionsParserBackend
    backend.start_execution = start_execution

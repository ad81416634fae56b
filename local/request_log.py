"""The local stack's log: one line per WebSocket frame, HTTP API request and state machine task, unless quiet."""

from __future__ import annotations

import time
from typing import Any


class RequestLog:
    """Prints the per-request lines of `python -m local`; a quiet one (local.inprocess) prints nothing.

    A WebSocket line names its connection by a number; its id (an address the @connections API posts to) only when
    `connection_ids` (LOG_LEVEL=DEBUG)."""

    def __init__(self, quiet: bool = False, connection_ids: bool = False) -> None:
        self.quiet = quiet
        self.connection_ids = connection_ids

    def ws(self, serial: int, conn_id: str, route: str, detail: str) -> None:
        """A WebSocket connection's route ($connect, a message's route, $disconnect) and its outcome."""
        if not self.quiet:
            name = f"#{serial} {conn_id}" if self.connection_ids else f"#{serial}"
            self._print(f"ws    {name:<16} {route:<18} {detail}")

    def http(self, method: str, path: str, status: int, started: float) -> None:
        """An HTTP API request, its status and how long it took since `started` (time.monotonic)."""
        if not self.quiet:
            self._print(f"http  {method:<6} {path:<40} {status} {(time.monotonic() - started) * 1000:.0f} ms")

    def task(self, function_id: str, event: Any, error: dict[str, Any] | None, started: float) -> None:
        """A Lambda Invoke of the state machine: the task, thread and turn it ran for, and its outcome."""
        if self.quiet:
            return
        task = event.get("task") if isinstance(event, dict) else None
        turn = event.get("turn", {}) if isinstance(event, dict) else {}
        ms = (time.monotonic() - started) * 1000
        outcome = f"error {error['errorType']}: {error['errorMessage']}" if error else "ok"
        self._print(
            f"task  {function_id:<16} {task or '-':<15} "
            f"thread={turn.get('thread_id', '-')} turn={turn.get('turn', '-')} {ms:6.0f} ms  {outcome}"
        )

    @staticmethod
    def _print(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


__all__ = ["RequestLog"]

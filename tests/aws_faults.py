"""AWS errors for tests, in each service's real wire shape, answered where the SDK would receive them.

They go through the same gate as the local stack's LOCAL_FAULTS (local.gate): consulted before moto's stubber, so a
faulted request never reaches moto, and botocore's own retry handler sees the error as it would see AWS's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local import gate
from local.faults import SERVICE_IDS, error_response


@dataclass
class Injection:
    """Answer calls of `service.operation` whose body contains `match` with `code`, `times` times (None: always)."""

    service: str
    operation: str
    code: str
    times: int | None = 1
    match: str | None = None
    when: Callable[[dict[str, Any]], bool] | None = None
    hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, event_name: str, request: Any) -> Any:
        _, service, operation = event_name.split(".", 2)
        if service != self.service or operation != self.operation:
            return None
        raw = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        if self.match is not None and self.match.encode() not in raw:
            return None
        body = json.loads(raw) if raw.startswith(b"{") else {}
        if self.when is not None and not self.when(body):
            return None
        with self._lock:
            if self.times is not None and self.hits >= self.times:
                return None
            self.hits += 1
        return error_response(service, operation, self.code, body)


@contextmanager
def injected(service: str, operation: str, code: str, times: int | None = 1, **kw: Any) -> Iterator[Injection]:
    """Inject `code` on `service.operation` (boto3 client name) inside the block."""
    injection = Injection(SERVICE_IDS.get(service, service), operation, code, times, **kw)
    gate.install(injection)
    try:
        yield injection
    finally:
        gate.uninstall(injection)

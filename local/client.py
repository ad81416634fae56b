"""A tiny HTTP client for the local stack's API (tests and benchmarks share it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def http_request(
    base: str, method: str, path: str, token: str | None = None, body: Any = None, timeout: float = 15
) -> tuple[int, Any]:
    """One HTTP request: (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")

"""The local stack in this process: LocalStack booted here, its aiohttp app served from a background thread.

In-process, fault tests can patch a function's loaded module and the benchmark can hook botocore (bench.metrics)
and read moto's tables directly. The stack is the same one `python -m local` runs: template.yaml, the handlers from
functions/, moto with the real ASL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from typing import Any, Self

from aiohttp import web

from local.client import http_request
from local.server import LocalStack
from local.settings import LocalStackSettings
from smart_support.auth.tokens import Role, mint_token
from smart_support.settings import load_settings


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class InProcessStack:
    """Boot, serve and stop a LocalStack inside this process (environment restored on stop)."""

    quiet = True  # no per-request log lines: most callers read results, not logs (False before start: printed)

    def __init__(self, **env: str) -> None:
        self.env = {"PORT": str(free_port()), **env}
        self.stack: LocalStack
        self._saved_env: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        """Boot moto, the template's resources and the functions, then serve on 127.0.0.1:PORT."""
        self._saved_env = dict(os.environ)
        os.environ.update(self.env)
        _clear_process_caches()
        config = load_settings(LocalStackSettings)
        self.stack = LocalStack(config, quiet=self.quiet)
        self.stack.boot()

        ready = threading.Event()
        app = self.stack.application()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._runner = web.AppRunner(app, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, config.host, config.port, backlog=512)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="local-stack", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the in-process stack did not start")
        return self

    def stop(self) -> None:
        """Stop serving, stop moto, restore the environment."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.stack.shutdown()
        os.environ.clear()
        os.environ.update(self._saved_env)
        _clear_process_caches()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ clients
    @property
    def port(self) -> int:
        """The port it serves on."""
        return int(self.env["PORT"])

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        """The HS256 secret tokens are signed with."""
        return self.stack.config.auth_secret

    def token(self, sub: str = "demo-customer", role: Role = "customer") -> str:
        """A valid token for `sub`."""
        return mint_token(self.secret, sub, role)

    def ws_url(self, token: str | None = None) -> str:
        """The WebSocket URL (with ?token=)."""
        return f"ws://127.0.0.1:{self.port}/ws" + (f"?token={token}" if token else "")

    def http(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        """One HTTP request to the stack: (status, parsed JSON or text)."""
        return http_request(self.base, method, path, token, body)


def _clear_process_caches() -> None:
    """Forget settings and clients built from a previous environment (they are cached per process)."""
    from smart_support import aws, services, settings

    for module in (settings, aws, services):
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


__all__ = ["InProcessStack", "free_port"]

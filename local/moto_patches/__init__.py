"""What the local stack changes in moto: one module per patch, each opening with its purpose (strictness, memory,
fidelity), the AWS behaviour it reproduces and its upstream form. Nothing is patched for speed alone.

The patches replace private moto symbols, so importing this package checks that moto is the version they were
written for and fails loudly on any other (none touches botocore). `install()` applies them all, once.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib import metadata

WRITTEN_FOR = {"moto": "5.2.5"}
PATCHES = (
    "item_locks",
    "transaction_rollback",
    "untracked_instances",
    "finished_executions",
    "task_tokens",
)


class PatchedVersionMismatch(RuntimeError):
    """Installed moto is not the one the patches were written for: the private symbols they replace may differ."""


def check_versions(installed: Mapping[str, str] | None = None) -> None:
    """Raise PatchedVersionMismatch unless each patched library is at the version the patches were written for."""
    installed = installed or {name: metadata.version(name) for name in WRITTEN_FOR}
    for name, version in installed.items():
        if version != WRITTEN_FOR[name]:
            raise PatchedVersionMismatch(
                f"local/moto_patches was written for {name} {WRITTEN_FOR[name]}, but {name} {version} is installed. "
                "Its patches replace private symbols that may have changed or been fixed upstream: run "
                "`pytest tests/integration/test_moto_patches.py tests/integration/test_task_tokens.py` (each test "
                "fails where moto no longer behaves as the patch expects), adapt or drop each patch, then set "
                f"WRITTEN_FOR in local/moto_patches/__init__.py to {version} (or pin {name}=={WRITTEN_FOR[name]})."
            )


check_versions()


def install() -> None:
    """Apply every patch (idempotent)."""
    for name in PATCHES:
        importlib.import_module(f"{__name__}.{name}").install()

"""What a SnapStart restore must redo: every execution environment resumed from one snapshot starts with the same
memory, so `random`'s state (the analytics shard a counter lands on, retry jitter, LangGraph's retry waits) would be
the same in all of them. The after-restore hook reseeds it from the OS.

The hooks run on Lambda's Python runtime (`snapshot_restore_py`, the Snapshot Restore for Python library, ships with
it); elsewhere (the local stack, tests) the module is absent and there is no snapshot to restore from.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RestoreHook = Callable[[], None]


def reseed_random() -> None:
    """Reseed `random` from the OS (os.urandom): no two restored environments share a sequence."""
    random.seed()


def register_restore_hooks(register: Callable[[RestoreHook], object] | None = None) -> bool:
    """Register the after-restore hooks with the runtime (False where there is no SnapStart runtime)."""
    if register is None:
        try:
            from snapshot_restore_py import register_after_restore
        except ImportError:  # not on Lambda's runtime: nothing is ever restored from a snapshot
            return False
        register = register_after_restore
    register(reseed_random)
    return True

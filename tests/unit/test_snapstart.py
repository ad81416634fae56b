"""SnapStart: environments restored from one snapshot must not share `random`'s sequence (smart_support.snapstart)."""

from __future__ import annotations

import random
import sys
import types

from smart_support import snapstart


def test_each_restored_environment_reseeds_random(monkeypatch):
    # Given Lambda's runtime module, which keeps the hooks to run after a restore
    hooks: list = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = hooks.append  # type: ignore[attr-defined]  # a stand-in module built here
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    # When the agent registers its hooks at init
    assert snapstart.register_restore_hooks() is True
    assert hooks == [snapstart.reseed_random]
    # Then two environments restored from the same memory (same `random` state) draw different numbers
    draws = []
    for _ in range(2):
        random.seed(1234)  # the state the snapshot holds
        for hook in hooks:
            hook()
        draws.append([random.random() for _ in range(3)])
    assert draws[0] != draws[1]


def test_without_the_snapstart_runtime_nothing_is_registered(monkeypatch):
    # Given no snapshot_restore_py (the local stack, tests): an import of it fails
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    # Then registering is a no-op
    assert snapstart.register_restore_hooks() is False

"""local/moto_patches refuses a moto it was not written for, and says what to check."""

from __future__ import annotations

import importlib

import pytest

from local import moto_patches


def test_another_moto_fails_loudly_naming_both_versions_and_what_to_check():
    with pytest.raises(moto_patches.PatchedVersionMismatch) as refused:
        moto_patches.check_versions({"moto": "5.3.0"})

    message = str(refused.value)
    assert "written for moto 5.2.5, but moto 5.3.0 is installed" in message
    assert "tests/integration/test_moto_patches.py" in message and "WRITTEN_FOR" in message


def test_the_installed_moto_is_the_one_written_for():
    moto_patches.check_versions()


def test_importing_the_package_checks(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9")
    with pytest.raises(RuntimeError, match=r"moto 9\.9\.9 is installed"):  # the reloaded module's own class
        importlib.reload(moto_patches)

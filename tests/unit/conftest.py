"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smart_support.settings import load_settings


class SettingsEnvironment:
    """Environment variables for settings tests; every change forgets the settings loaded so far."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def unset(self, *names: str) -> None:
        """Remove these variables."""
        for name in names:
            self.monkeypatch.delenv(name, raising=False)
        load_settings.cache_clear()

    def __call__(self, **values: str) -> None:
        """Set these variables."""
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)
        load_settings.cache_clear()


@pytest.fixture
def settings_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[SettingsEnvironment]:
    """Set or unset variables for `load_settings`; nothing it loaded stays cached after the test."""
    yield SettingsEnvironment(monkeypatch)
    load_settings.cache_clear()

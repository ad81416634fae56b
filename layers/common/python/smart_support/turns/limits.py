"""Abuse limits per principal: frames (and HTTP requests) per second, turns per minute (DESIGN.md, Identity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from smart_support.protocol.errors import RateLimited

if TYPE_CHECKING:
    from smart_support.store.ports import RateLimitRepository


@dataclass(frozen=True)
class Limits:
    """The principal's token buckets; each check takes one token or raises RateLimited (the connection stays)."""

    buckets: RateLimitRepository
    frames_per_second: int
    turns_per_minute: int

    def frame(self, principal: str) -> None:
        """One WebSocket frame or HTTP request."""
        if not self.buckets.allow(principal, "frames", self.frames_per_second, self.frames_per_second):
            raise RateLimited()

    def turn(self, principal: str) -> None:
        """One message that starts (or waits for) a turn."""
        if not self.buckets.allow(principal, "turns", self.turns_per_minute / 60, self.turns_per_minute):
            raise RateLimited("That is a lot of messages in a minute; please slow down and try again shortly.")

"""Guests of the web chat (ALLOW_ANONYMOUS): a customer of its own per browser, minted here, seeded on first use.

A page without a token of its own asks POST /_local/guest (config.json's `guestUrl`) for one: a customer token for a
random `guest-<id>`, signed with the stack's secret like any other and living GUEST_TOKEN_TTL_SECONDS (1 h). The page
keeps it in its localStorage and renews it with the same call, its token as Bearer: a valid guest token keeps its
guest, anything else gets a new one. Each guest is a principal of its own, so its threads and its rate buckets are
its own. The first WebSocket connection of a guest seeds the demo customer's orders (smart_support.store.demo_data)
for it, in their demo state: order numbers are the orders table's key, so the demo orders exist once and belong to
the newest guest (docs/security.md, "Guests").

In AWS there is no such endpoint: customers come with a token from the company's site (docs/security.md).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time

from aiohttp import hdrs, web

from local.settings import LocalStackSettings
from smart_support.auth.tokens import mint_token, verify_token
from smart_support.clock import iso
from smart_support.protocol.errors import Unauthorized
from smart_support.store.demo_data import DEMO_CUSTOMER, DEMO_ORDERS
from smart_support.store.orders import OrderStore

GUEST_PATH = "/_local/guest"
GUEST_PREFIX = "guest-"


class Guests:
    """Mints and renews guest tokens; seeds the demo orders for a guest on its first connection."""

    def __init__(self, config: LocalStackSettings) -> None:
        self.config = config
        self.orders: OrderStore | None = None  # where the demo orders go (none with SEED_DEMO_DATA=false)
        self._seeding: dict[str, asyncio.Future[None]] = {}

    def mint(self, held: str | None) -> tuple[str, str, int]:
        """A guest token: (token, sub, exp), for the guest `held` names if it is a valid guest token, else a new one."""
        sub = self._guest_of(held) or f"{GUEST_PREFIX}{secrets.token_hex(8)}"
        now = int(time.time())
        ttl = self.config.guest_token_ttl_seconds
        return mint_token(self.config.auth_secret, sub, "customer", ttl_seconds=ttl, now=now), sub, now + ttl

    def _guest_of(self, token: str | None) -> str | None:
        if not token:
            return None
        try:
            principal = verify_token(self.config.auth_secret, token)
        except Unauthorized:
            return None
        is_guest = principal.sub.startswith(GUEST_PREFIX) and not principal.is_operator
        return principal.sub if is_guest else None

    async def handle_guest(self, request: web.Request) -> web.Response:
        """POST /_local/guest: a guest token for the page (renewed when it sends its own as Bearer)."""
        headers = {"Cache-Control": "no-store"}
        if not self.config.allow_anonymous:
            refused = {"message": "Guest access is off (ALLOW_ANONYMOUS=false)"}
            return web.json_response(refused, status=403, headers=headers)
        if not self.config.allows_origin(request.headers.get(hdrs.ORIGIN)):
            return web.json_response({"message": "Forbidden"}, status=403, headers=headers)
        scheme, _, held = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        token, sub, exp = self.mint(held.strip() if scheme.lower() == "bearer" else None)
        return web.json_response({"token": token, "sub": sub, "expires_at": iso(exp)}, headers=headers)

    async def first_use(self, sub: str) -> None:
        """Seed the demo orders for a guest on its first connection (once per guest and process; others: nothing)."""
        if self.orders is None or not sub.startswith(GUEST_PREFIX):
            return
        seeding = self._seeding.get(sub)
        if seeding is None:  # not on a Lambda worker: the stack's own calls carry no principal (local.gate)
            seeding = self._seeding[sub] = asyncio.get_running_loop().run_in_executor(None, self._seed, sub)
        try:
            await seeding
        except Exception as exc:  # the guest chats without orders; its next connection tries again
            self._seeding.pop(sub, None)
            print(f"warning: demo orders not seeded for a guest: {exc!r}", file=sys.stderr, flush=True)

    def _seed(self, sub: str) -> None:
        assert self.orders is not None
        for order in DEMO_ORDERS:
            if order.customer_id == DEMO_CUSTOMER:
                self.orders.put(order.model_copy(update={"customer_id": sub}))


__all__ = ["GUEST_PATH", "GUEST_PREFIX", "Guests"]

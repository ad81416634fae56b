"""Mint a development JWT: `make token SUB=c-2001`, `make token SUB=op-1 ROLE=operator NAME=Alice` (AUTH_SECRET)."""

from __future__ import annotations

import argparse
import sys

from local.settings import LocalStackSettings
from smart_support.auth.tokens import mint_token
from smart_support.settings import load_settings


def main() -> None:
    """Print a token and how to use it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sub", default="demo-customer")
    parser.add_argument("--role", choices=["customer", "operator"], default="customer")
    parser.add_argument("--name", default="", help="the display name customers see of an operator")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    settings = load_settings(LocalStackSettings)
    token = mint_token(settings.auth_secret, args.sub, args.role, ttl_seconds=args.hours * 3600, name=args.name or None)
    port = settings.port
    try:
        print(token, flush=True)
    except BrokenPipeError:  # e.g. `make token | head -1`
        return
    if args.role == "operator":
        print(f"\n# console:   http://127.0.0.1:{port}/console?token={token}")
    else:
        print(f"\n# web chat:  http://127.0.0.1:{port}/?token={token}")
    print(f"# websocket: ws://127.0.0.1:{port}/ws?token={token}")
    print(f"# curl:      curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/api/v1/sessions")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.stderr.close()

"""Publish web/ to the stack's bucket in the layout CloudFront serves, with a config.json made from the stack outputs.

`python -m deploy.site publish [--config-env prod]` (what `make deploy` runs after `sam deploy`) reads the stack name
and region from samconfig.toml, the outputs from CloudFormation, uploads the pages (index.html at /, console.html as
/console, everything else of web/ under /static/, as the local stack serves them) and config.json, removes what
web/ no longer has, and invalidates the distribution. `python -m deploy.site config --outputs describe-stacks.json`
prints the config.json a stack's outputs make, without touching AWS.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "web"
SAMCONFIG = ROOT / "samconfig.toml"
PAGES = {"index.html": "index.html", "console.html": "console"}  # / is CloudFront's default root object
STATIC_PREFIX = "static/"
CONFIG_KEY = "config.json"
NO_CACHE = "no-cache"  # pages and config.json: revalidated on every load, so a deploy shows at once
STATIC_CACHE = "public, max-age=300"  # modules are not fingerprinted: short, and each deploy invalidates
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class DeployError(Exception):
    """Something the deploy cannot go on without (a missing output, a malformed URL)."""


def site_config(ws_url: str, api_url: str) -> dict[str, str]:
    """The pages' config.json: the WebSocket URL and the HTTP API base (the pages use nothing else)."""
    ws, api = urlsplit(ws_url), urlsplit(api_url)
    if ws.scheme not in ("ws", "wss") or not ws.netloc:
        raise DeployError(f"not a WebSocket URL: {ws_url!r}")
    if api.scheme not in ("http", "https") or not api.netloc:
        raise DeployError(f"not an HTTP API URL: {api_url!r}")
    return {"wsUrl": ws_url, "apiUrl": api_url.rstrip("/")}


def stack_outputs(describe_stacks: dict[str, Any]) -> dict[str, str]:
    """OutputKey -> OutputValue of the one stack in a DescribeStacks answer."""
    stacks = describe_stacks.get("Stacks") or []
    if len(stacks) != 1:
        raise DeployError(f"expected one stack, got {len(stacks)}")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}


def config_from_outputs(outputs: dict[str, str]) -> dict[str, str]:
    """config.json from the stack's WebSocketUrl and HttpApiUrl outputs."""
    missing = [key for key in ("WebSocketUrl", "HttpApiUrl") if not outputs.get(key)]
    if missing:
        raise DeployError(f"the stack has no {', '.join(missing)} output: is it deployed from this template?")
    return site_config(outputs["WebSocketUrl"], outputs["HttpApiUrl"])


@dataclass(frozen=True)
class SiteObject:
    """One object of the published site."""

    key: str
    body: bytes
    content_type: str
    cache_control: str


def content_type(path: Path) -> str:
    """The Content-Type a file is served with."""
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def site_objects(config: dict[str, str], web_dir: Path = WEB_DIR) -> list[SiteObject]:
    """Every object of the site: the two pages at the root, the rest of web/ under static/, and config.json."""
    objects = [SiteObject(CONFIG_KEY, json.dumps(config, indent=2).encode(), "application/json", NO_CACHE)]
    for path in sorted(p for p in web_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(web_dir).as_posix()
        if relative in PAGES:
            objects.append(SiteObject(PAGES[relative], path.read_bytes(), "text/html; charset=utf-8", NO_CACHE))
        else:
            objects.append(SiteObject(STATIC_PREFIX + relative, path.read_bytes(), content_type(path), STATIC_CACHE))
    return objects


def publish(
    s3: Any, cloudfront: Any, bucket: str, distribution_id: str, objects: Iterable[SiteObject]
) -> dict[str, Any]:
    """Upload the objects, delete keys the site no longer has, invalidate every path; returns what it did."""
    keys = set()
    for item in objects:
        s3.put_object(
            Bucket=bucket, Key=item.key, Body=item.body, ContentType=item.content_type, CacheControl=item.cache_control
        )
        keys.add(item.key)
    stale = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for entry in page.get("Contents", [])
        if entry["Key"] not in keys
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]})
    invalidation = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"deploy-{time.time_ns()}"},
    )
    return {"uploaded": sorted(keys), "deleted": stale, "invalidation": invalidation["Invalidation"]["Id"]}


def samconfig_stack(config_env: str, path: Path = SAMCONFIG) -> tuple[str, str | None]:
    """(stack name, region) of a samconfig.toml environment, as `sam deploy --config-env` uses them."""
    with path.open("rb") as fh:
        env = tomllib.load(fh).get(config_env)
    if not env:
        raise DeployError(f"samconfig.toml has no [{config_env}] environment")
    deploy = env.get("deploy", {}).get("parameters", {})
    stack = deploy.get("stack_name") or env.get("global", {}).get("parameters", {}).get("stack_name")
    if not stack:
        raise DeployError(f"samconfig.toml [{config_env}] names no stack_name")
    return str(stack), deploy.get("region")


def main(argv: list[str] | None = None, session: Any = None) -> None:
    """`config` prints config.json for a stack's outputs; `publish` uploads the site and invalidates CloudFront.

    `session` (anything with boto3.Session's `client(name)`) replaces the default credentials' session in tests.
    """
    parser = argparse.ArgumentParser(prog="python -m deploy.site", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["config", "publish"])
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument("--stack-name", help="instead of samconfig.toml's")
    parser.add_argument("--region", help="instead of samconfig.toml's")
    parser.add_argument("--outputs", type=Path, help="config only: a saved `aws cloudformation describe-stacks` answer")
    args = parser.parse_args(argv)
    try:
        if args.command == "config" and args.outputs:
            outputs = stack_outputs(json.loads(args.outputs.read_text(encoding="utf-8")))
            print(json.dumps(config_from_outputs(outputs), indent=2))
            return
        stack, region = samconfig_stack(args.config_env)
        if session is None:
            import boto3

            session = boto3.Session(region_name=args.region or region)
        outputs = stack_outputs(session.client("cloudformation").describe_stacks(StackName=args.stack_name or stack))
        config = config_from_outputs(outputs)
        if args.command == "config":
            print(json.dumps(config, indent=2))
            return
        done = publish(
            session.client("s3"),
            session.client("cloudfront"),
            outputs["WebBucketName"],
            outputs["WebDistributionId"],
            site_objects(config),
        )
    except (DeployError, KeyError) as exc:
        sys.exit(f"deploy: {exc}")
    print(
        f"published {len(done['uploaded'])} objects to s3://{outputs['WebBucketName']} "
        f"(removed {len(done['deleted'])}), invalidation {done['invalidation']}\n"
        f"  web chat          {outputs.get('WebUrl', '')}/\n"
        f"  operator console  {outputs.get('WebUrl', '')}/console"
    )


if __name__ == "__main__":
    main()

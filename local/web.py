"""The web pages as CloudFront serves them in AWS: the template's security headers and a config.json, locally.

The web chat at /, the operator console at /console, files under web/ at /static/..., and /config.json (this
stack's WebSocket and HTTP API URLs). The headers come from the template's AWS::CloudFront::ResponseHeadersPolicy
(never a second copy): its content security policy names the stack's WebSocket and HTTP API origins, which here
are the local stack's own.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from deploy.site import site_config
from local.guests import GUEST_PATH
from local.settings import LocalStackSettings
from local.template import ROOT, resources_of_type

WEB_DIR = ROOT / "web"


def _substitute(value: Any, variables: dict[str, str]) -> str:
    """A plain string or an Fn::Sub whose every ${Name} is one of `variables`."""
    if isinstance(value, str):
        return value
    text, names = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names or name not in variables:
            raise KeyError(f"the local stack cannot fill ${{{name}}} in the response headers policy")
        return variables[name]

    return re.sub(r"\$\{([^}!]+)\}", replace, text)


def security_headers(template: dict[str, Any], ws_origin: str, api_origin: str) -> dict[str, str]:
    """The HTTP headers of the template's response headers policy, its two API origins replaced by these."""
    ((_, policy),) = resources_of_type(template, "AWS::CloudFront::ResponseHeadersPolicy").items()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    security = config.get("SecurityHeadersConfig", {})
    origins = {"WebSocketOrigin": ws_origin, "HttpApiOrigin": api_origin}
    headers: dict[str, str] = {}
    if csp := security.get("ContentSecurityPolicy"):
        headers["Content-Security-Policy"] = _substitute(csp["ContentSecurityPolicy"], origins)
    if frame := security.get("FrameOptions"):
        headers["X-Frame-Options"] = frame["FrameOption"]
    if hsts := security.get("StrictTransportSecurity"):
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers["Strict-Transport-Security"] = value
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    if referrer := security.get("ReferrerPolicy"):
        headers["Referrer-Policy"] = referrer["ReferrerPolicy"]
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers[item["Header"]] = item["Value"]
    return headers


def local_site_config(host: str, guests: bool) -> dict[str, str]:
    """config.json for pages served by the local stack at `host` (host:port): its own WebSocket and HTTP API, and
    with anonymous access on, where a page without a token gets a guest token of its own (same origin: local.guests)."""
    config = site_config(f"ws://{host}/ws", f"http://{host}/api/v1")
    return {**config, "guestUrl": GUEST_PATH} if guests else config


class SitePages:
    """The pages and config.json, each with the headers CloudFront adds in AWS. Their URLs name the configured host
    and port, never a request's Host header (which a DNS-rebinding page chooses)."""

    def __init__(self, template: dict[str, Any], config: LocalStackSettings) -> None:
        self.template = template
        self.config = config
        self.headers = {
            **security_headers(template, f"ws://{config.authority}", f"http://{config.authority}"),
            "Cache-Control": "no-store",
        }

    async def handle_static(self, request: web.Request) -> web.StreamResponse:
        """The web chat (/) and the operator console (/console), with the pages' security headers."""
        name = request.match_info.get("name") or "index.html"
        if request.path == "/console":
            name = "console.html"
        path = (WEB_DIR / name).resolve()
        if WEB_DIR.resolve() not in path.parents or not path.is_file():
            raise web.HTTPNotFound(headers=self.headers)
        return web.FileResponse(path, headers=self.headers)

    async def handle_site_config(self, _: web.Request) -> web.Response:
        """/config.json beside the pages (make deploy writes it from the stack outputs): this stack's own URLs."""
        config = local_site_config(self.config.authority, self.config.allow_anonymous)
        return web.json_response(config, headers=self.headers)


__all__ = ["SitePages", "local_site_config", "security_headers"]

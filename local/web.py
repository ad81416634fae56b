"""The web pages as CloudFront serves them in AWS: the template's security headers and a config.json, locally.

The headers come from the template's AWS::CloudFront::ResponseHeadersPolicy (never a second copy): its content
security policy names the stack's WebSocket and HTTP API origins, which here are the local stack's own.
"""

from __future__ import annotations

import re
from typing import Any

from deploy.site import site_config
from local.template import resources_of_type


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


def local_site_config(host: str) -> dict[str, str]:
    """config.json for pages served by the local stack at `host` (host:port): its own WebSocket and HTTP API."""
    return site_config(f"ws://{host}/ws", f"http://{host}/api/v1")


__all__ = ["local_site_config", "security_headers"]

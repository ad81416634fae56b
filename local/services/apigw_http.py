"""API Gateway's HTTP API at /api/v1, and at /local/api/v1 as API Gateway serves a named stage (/<stage>/api/v1).

Routes come from the `HttpApi` events of the template's functions (exact paths before `{proxy+}`), each behind
the API's Lambda authorizer unless it says `Authorizer: NONE`; events are payload format 2.0 with the stage in
`rawPath`. CORS grants go only to the stack's own origin and ALLOWED_ORIGINS.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from local.request_log import RequestLog
from local.services.apigw import HTTP_API_ID, STAGE, now_ms, request_time
from local.services.lambda_invoke import LambdaService
from local.settings import LocalStackSettings
from local.template import ACCOUNT_ID, REGION, resources_of_type

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway HTTP APIs take request bodies up to 10 MB
# [\s\S]: a path may hold any character, a decoded newline too (API Gateway routes it like any other)
PATHS = (r"/api/v1/{tail:[\s\S]*}", rf"/{STAGE}/api/v1/{{tail:[\s\S]*}}")  # the API, and the stage's own URL


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi event of a function: its method and path, the authorizer's function unless the route has none."""

    path: str
    method: str
    regex: re.Pattern[str]
    function: str
    greedy: bool
    authorizer: str | None


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    """The template's HTTP API routes, exact paths before {proxy+} ones."""
    http_api = next(iter(resources_of_type(template, "AWS::Serverless::HttpApi").values()))
    auth = http_api["Properties"].get("Auth", {})
    default_authorizer = auth.get("DefaultAuthorizer")
    authorizer_functions = {
        name: spec["FunctionArn"]["Fn::GetAtt"][0] for name, spec in auth.get("Authorizers", {}).items()
    }
    routes = []
    for function_id, res in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in res["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            authorizer = props.get("Auth", {}).get("Authorizer", default_authorizer)
            path = props["Path"]
            pattern = (
                "^"
                + re.sub(
                    r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
                )
                + "$"
            )
            routes.append(
                HttpRoute(
                    path=path,
                    method=props.get("Method", "ANY").upper(),
                    regex=re.compile(pattern, re.DOTALL),  # a path may hold any (decoded) character
                    function=function_id,
                    greedy="+}" in path,
                    authorizer=None if authorizer == "NONE" else authorizer_functions.get(authorizer),
                )
            )
    return sorted(routes, key=lambda r: r.greedy)  # exact routes win over {proxy+}


class HttpApi:
    """The HTTP API: a request matched to its route, authorized, proxied to its function."""

    def __init__(
        self, config: LocalStackSettings, template: dict[str, Any], lambdas: LambdaService, log: RequestLog
    ) -> None:
        self.config = config
        self.routes = http_routes(template)
        self.lambdas = lambdas
        self.log = log

    async def handle_http_api(self, request: web.Request) -> web.Response:
        """/api/v1/* (and /<stage>/api/v1/*, as API Gateway serves a named stage): the template's HttpApi routes."""
        path = request.path.removeprefix(f"/{STAGE}")
        route, params = None, {}
        for candidate in self.routes:
            match = candidate.regex.match(path)
            if match and candidate.method in ("ANY", request.method):
                route, params = candidate, match.groupdict()
                break
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=self._cors(request))
        if route is None:
            return web.json_response({"message": "Not Found"}, status=404, headers=self._cors(request))
        body = await request.text()
        headers = {k.lower(): v for k, v in request.headers.items()}
        request_id = str(uuid.uuid4())
        context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": HTTP_API_ID,
            "domainName": f"{self.config.host}:{self.config.port}",
            "domainPrefix": HTTP_API_ID,
            "requestId": request_id,
            "routeKey": f"{route.method} {route.path}",
            "stage": STAGE,
            "time": request_time(),
            "timeEpoch": now_ms(),
            "http": {
                "method": request.method,
                "path": f"/{STAGE}{path}",
                "protocol": "HTTP/1.1",
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
        }
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": context["routeKey"],
            "rawPath": f"/{STAGE}{path}",
            "rawQueryString": request.query_string,
            "headers": headers,
            "queryStringParameters": dict(request.query) or None,
            "pathParameters": params or None,
            "requestContext": context,
            "body": body or None,
            "isBase64Encoded": False,
        }
        started = time.monotonic()
        if route.authorizer:
            auth_event = {
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{HTTP_API_ID}/{STAGE}/{request.method}{path}",
                "identitySource": [headers.get("authorization", "")],
                "routeKey": context["routeKey"],
                "rawPath": event["rawPath"],
                "rawQueryString": request.query_string,
                "headers": headers,
                "queryStringParameters": event["queryStringParameters"],
                "requestContext": context,
                "pathParameters": params or None,
            }
            result, error = await self.lambdas.invoke(route.authorizer, auth_event)
            if error:
                return web.json_response({"message": "Internal Server Error"}, status=500, headers=self._cors(request))
            if not result.get("isAuthorized"):
                self.log.http(request.method, request.path, 403, started)
                return web.json_response({"message": "Forbidden"}, status=403, headers=self._cors(request))
            context["authorizer"] = {"lambda": result.get("context") or {}}
        result, error = await self.lambdas.invoke(route.function, event)
        if error:
            self.log.http(request.method, request.path, 500, started)
            return web.json_response({"message": "Internal Server Error"}, status=500, headers=self._cors(request))
        status = int(result.get("statusCode", 200))
        response_headers = {**self._cors(request), **(result.get("headers") or {})}
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        self.log.http(request.method, request.path, status, started)
        return web.Response(status=status, body=raw, headers=response_headers)

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin or not self.config.allows_origin(origin):
            return {"Vary": "Origin"}  # no CORS grant: a browser page elsewhere cannot read the answer
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": "authorization,content-type",
            "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
            "Vary": "Origin",
        }


__all__ = ["MAX_PAYLOAD", "PATHS", "HttpApi", "HttpRoute", "http_routes"]

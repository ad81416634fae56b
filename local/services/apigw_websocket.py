"""API Gateway's WebSocket API at /ws: the template's routes, with the events API Gateway sends their functions.

The `$connect` REQUEST authorizer (its error → 401, a Deny → 403), the authorizer's context on every route, route
selection by `$request.body.type` among the template's routes, route responses for two-way routes, `$disconnect`
with its status and reason, a 10-minute idle timeout and a 2-hour connection limit (WEBSOCKET_MAX_CONNECTION_SECONDS),
128 KB messages. A handshake from a browser origin other than the stack's own (or ALLOWED_ORIGINS) gets 403. The open
connections are what the @connections API (apigw_connections) posts to.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from local.request_log import RequestLog
from local.services.apigw import MAX_MESSAGE_BYTES, STAGE, WEBSOCKET_API_ID, now_ms, request_time
from local.services.lambda_invoke import LambdaService
from local.settings import LocalStackSettings
from local.template import ACCOUNT_ID, REGION, resources_of_type

IDLE_TIMEOUT_SECONDS = 600
# API Gateway closes with 1001 when a client is idle for 10 minutes or reaches the 2-hour connection lifetime
# ("Overview of WebSocket APIs in API Gateway", status codes; docs/local-stack.md)
GOING_AWAY = 1001
_FUNCTION_OF_URI = re.compile(r"functions/\$\{(\w+)\.Arn\}")


@dataclass
class Connection:
    """An open client WebSocket."""

    connection_id: str
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float
    authorizer: dict[str, Any]  # the $connect authorizer's context, on every route's event
    serial: int  # how the log names it (the id only at DEBUG)
    last_active: float = field(default_factory=time.time)
    routing: set[asyncio.Task[None]] = field(default_factory=set)  # frames being routed (asyncio keeps weak refs)


@dataclass
class Clients:
    """The open connections by id, and how many frames were sent to clients."""

    open: dict[str, Connection] = field(default_factory=dict)
    frames_out: int = 0
    opened: int = 0  # handshakes so far (each connection's serial)

    async def send(self, conn: Connection, text: str) -> None:
        """One frame to a client."""
        self.frames_out += 1
        await conn.ws.send_str(text)


@dataclass(frozen=True)
class WebSocketRoute:
    """One AWS::ApiGatewayV2::Route: its function, its authorizer's function, whether it answers (route response)."""

    function: str
    authorizer: str | None
    two_way: bool


def websocket_routes(template: dict[str, Any]) -> dict[str, WebSocketRoute]:
    """The template's WebSocket routes by route key."""

    def functions_of(type_name: str, uri_property: str) -> dict[str, Any]:
        found = {}  # logical id -> the function its URI names (None: not a Lambda one)
        for logical_id, res in resources_of_type(template, type_name).items():
            function = _FUNCTION_OF_URI.search(res["Properties"][uri_property]["Fn::Sub"])
            found[logical_id] = function.group(1) if function else None
        return found

    integrations = functions_of("AWS::ApiGatewayV2::Integration", "IntegrationUri")
    authorizers = functions_of("AWS::ApiGatewayV2::Authorizer", "AuthorizerUri")
    two_way = {
        res["Properties"]["RouteId"]["Ref"]
        for res in resources_of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()
    }
    routes = {}
    for logical_id, res in resources_of_type(template, "AWS::ApiGatewayV2::Route").items():
        props = res["Properties"]
        target = props["Target"]["Fn::Sub"].split("${", 1)[1].rstrip("}")
        authorizer = props.get("AuthorizerId", {}).get("Ref") if props.get("AuthorizationType") == "CUSTOM" else None
        routes[props["RouteKey"]] = WebSocketRoute(
            function=integrations[target],
            authorizer=authorizers.get(authorizer) if authorizer else None,
            two_way=logical_id in two_way,
        )
    return routes


def _new_connection_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode()[:-2] + "="


class WebSocketApi:
    """The WebSocket API: connections in, routes to the functions, route responses out."""

    def __init__(
        self,
        config: LocalStackSettings,
        template: dict[str, Any],
        lambdas: LambdaService,
        log: RequestLog,
        admitted: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.routes = websocket_routes(template)
        self.lambdas = lambdas
        self.log = log
        self.clients = Clients()
        self.admitted = admitted  # told each principal the authorizer let in, before $connect (local.guests)

    def _request_context(self, route_key: str, event_type: str, conn: Connection) -> dict[str, Any]:
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": request_time(),
            "stage": STAGE,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": now_ms(),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": str(uuid.uuid4()),
            "domainName": f"{self.config.host}:{self.config.port}",
            "connectionId": conn.connection_id,
            "apiId": WEBSOCKET_API_ID,
        }

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        """The API Gateway WebSocket emulation at /ws."""
        if not self.config.allows_origin(request.headers.get("Origin")):
            # A page on another site must not open a chat as whoever is signed in here (cross-site WebSocket).
            return web.json_response({"message": "Forbidden"}, status=403)
        self.clients.opened += 1
        conn = Connection(
            _new_connection_id(),
            web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=None),
            request.remote or "127.0.0.1",
            request.headers.get("User-Agent", ""),
            time.time(),
            {},
            self.clients.opened,
        )
        refused = await self._connect(conn, request)
        if refused is not None:
            return refused
        await conn.ws.prepare(request)
        conn.last_active = time.time()
        self.clients.open[conn.connection_id] = conn
        self.log.ws(conn.serial, conn.connection_id, "$connect", f"principal={conn.authorizer.get('sub', '-')}")
        reason, code = "Client closed", 1000
        try:
            reason, code = await self._receive(conn)
        finally:
            self.clients.open.pop(conn.connection_id, None)
            await self._disconnect(conn, reason, code)
        return conn.ws

    async def _connect(self, conn: Connection, request: web.Request) -> web.Response | None:
        """The $connect authorizer, then the $connect route: None if they let the client in, else the refusal."""
        headers = dict(request.headers)
        query = dict(request.query)
        route = self.routes["$connect"]
        if route.authorizer:
            auth_event = {
                "type": "REQUEST",
                "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{WEBSOCKET_API_ID}/{STAGE}/$connect",
                "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
                "queryStringParameters": query,
                "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
                "stageVariables": {},
                "requestContext": self._request_context("$connect", "CONNECT", conn),
            }
            result, error = await self.lambdas.invoke(route.authorizer, auth_event)
            if error:
                self.log.ws(conn.serial, conn.connection_id, "$connect", "refused 401")
                return web.json_response({"message": "Unauthorized"}, status=401)
            statements = result.get("policyDocument", {}).get("Statement", [])
            if not statements or any(s.get("Effect") != "Allow" for s in statements):
                self.log.ws(conn.serial, conn.connection_id, "$connect", "refused 403")
                return web.json_response({"message": "Forbidden"}, status=403)
            conn.authorizer = {**result.get("context", {}), "principalId": result.get("principalId")}
            if self.admitted is not None:
                await self.admitted(str(conn.authorizer.get("sub", "")))
        connect_event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "isBase64Encoded": False,
            "requestContext": {
                **self._request_context("$connect", "CONNECT", conn),
                "authorizer": conn.authorizer or None,
            },
        }
        result, error = await self.lambdas.invoke(route.function, connect_event)
        status = 500 if error else int((result or {}).get("statusCode", 200))
        if status >= 300:
            self.log.ws(conn.serial, conn.connection_id, "$connect", f"refused {status}")
            return web.json_response({"message": "Forbidden"}, status=403 if status < 500 else 500)
        return None

    async def _receive(self, conn: Connection) -> tuple[str, int]:
        """Route each frame the client sends until it leaves, is idle for 10 minutes or has been connected for the
        maximum duration (2 hours): why it ended, and the close code (API Gateway's 1001 for both limits)."""
        ends_at = conn.connected_at + self.config.websocket_max_connection_seconds
        while True:
            left = ends_at - time.time()
            if left <= 0:
                await conn.ws.close(code=GOING_AWAY, message=b"Going away")
                return "Connection duration exceeded", GOING_AWAY
            try:
                msg = await conn.ws.receive(timeout=min(IDLE_TIMEOUT_SECONDS, left))
            except TimeoutError:
                if time.time() >= ends_at:
                    continue
                await conn.ws.close(code=GOING_AWAY, message=b"Going away")
                return "Idle timeout", GOING_AWAY
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                conn.last_active = time.time()
                body = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8", "replace")
                task = asyncio.create_task(self._route_frame(conn, body))
                conn.routing.add(task)
                task.add_done_callback(conn.routing.discard)
            elif msg.type == WSMsgType.ERROR:
                return "Message too big" if "size" in str(conn.ws.exception()) else "Error", 1009
            else:
                return "Client closed", 1000

    async def _disconnect(self, conn: Connection, reason: str, code: int) -> None:
        disconnect_event = {
            "headers": {},
            "multiValueHeaders": {},
            "isBase64Encoded": False,
            "requestContext": {
                **self._request_context("$disconnect", "DISCONNECT", conn),
                "disconnectStatusCode": conn.ws.close_code or code,
                "disconnectReason": reason,
                "authorizer": conn.authorizer or None,
            },
        }
        await self.lambdas.invoke(self.routes["$disconnect"].function, disconnect_event)
        self.log.ws(conn.serial, conn.connection_id, "$disconnect", reason)

    def _select_route(self, body: str) -> str:
        # API Gateway calls $default when the route selection expression cannot be evaluated against the message
        # (not JSON, or JSON nested too deep to parse here): its function answers invalid_json.
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return "$default"
        key = data.get("type") if isinstance(data, dict) else None
        if isinstance(key, str) and key in self.routes and not key.startswith("$"):
            return key
        return "$default"

    async def _route_frame(self, conn: Connection, body: str) -> None:
        route_key = self._select_route(body)
        route = self.routes[route_key]
        started = time.monotonic()
        request_context = self._request_context(route_key, "MESSAGE", conn)
        request_context.update(
            messageId=base64.b64encode(secrets.token_bytes(6)).decode(), authorizer=conn.authorizer or None
        )
        event = {"body": body, "isBase64Encoded": False, "requestContext": request_context}
        result, error = await self.lambdas.invoke(route.function, event)
        request_id = str(request_context["requestId"])
        reply = None
        if error:
            reply = json.dumps(
                {
                    "message": "Internal server error",
                    "connectionId": conn.connection_id,
                    "requestId": request_id,
                }
            )
        elif route.two_way and isinstance(result, dict) and result.get("body"):
            reply = result["body"]
        outcome = (
            "error"
            if error
            else (
                json.loads(reply).get("code") or json.loads(reply).get("type")
                if reply and reply.startswith("{")
                else "ok"
            )
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        self.log.ws(conn.serial, conn.connection_id, route_key, f"{outcome} {elapsed_ms:.0f} ms")
        if reply is not None and not conn.ws.closed:
            await self.clients.send(conn, reply)


__all__ = ["Clients", "Connection", "WebSocketApi", "WebSocketRoute", "websocket_routes"]

"""API Gateway's @connections management API at /{stage}/@connections/{id}: what the functions post frames with.

POST sends a frame to the client (413 PayloadTooLargeException past 128 KB), GET describes the connection, DELETE
closes it; a client that left answers 410 GoneException. Only calls carrying the key the gate adds to the functions'
own are answered (403 otherwise): in AWS a caller needs IAM's execute-api:ManageConnections, here a connection id
alone would let anyone post into a customer's chat. Other methods are 405, and touch no connection. The functions'
calls (botocore, signed, checked by IAM and LOCAL_FAULTS like any AWS call) are answered on the server's event loop
by the same handler (ConnectionsInProcess); anything else reaches it over HTTP.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web

from local.gate import INVOKE_KEY_HEADER
from local.services.apigw import MAX_MESSAGE_BYTES
from local.services.apigw_websocket import Clients
from local.services.replies import Reply, botocore_response, json_reply, request_body, request_header

CONNECTIONS_PATH = "/{stage}/@connections/{connection_id}"
METHODS = ("DELETE", "GET", "POST")


class ConnectionsApi:
    """The @connections API of the WebSocket API's open connections."""

    def __init__(self, clients: Clients, key: str) -> None:
        self.clients = clients
        self.key = key  # the gate adds it to the functions' calls (local.gate)

    async def handle_connection_api(self, request: web.Request) -> web.Response:
        """POST/GET/DELETE /{stage}/@connections/{id}: the management API the functions call."""
        conn_id = unquote(request.match_info["connection_id"])
        data = await request.read() if request.method == "POST" else b""
        key = request.headers.get(INVOKE_KEY_HEADER, "")
        status, headers, body = await self.connection_call(request.method, conn_id, data, key)
        return web.Response(status=status, body=body or None, headers=headers)

    async def connection_call(self, method: str, conn_id: str, data: bytes, key: str) -> Reply:
        """One @connections request: (status, headers, body) as API Gateway answers it."""
        if not hmac.compare_digest(key.encode(), self.key.encode()):
            return json_reply(403, {"message": "Forbidden"}, {"x-amzn-ErrorType": "ForbiddenException"})
        if method not in METHODS:
            return json_reply(405, {"message": "Method Not Allowed"}, {"Allow": ", ".join(METHODS)})
        conn = self.clients.open.get(conn_id)
        if conn is None or conn.ws.closed:
            return json_reply(410, {"message": "Gone"}, {"x-amzn-ErrorType": "GoneException"})
        if method == "POST":
            if len(data) > MAX_MESSAGE_BYTES:
                return json_reply(
                    413, {"message": "Payload too large"}, {"x-amzn-ErrorType": "PayloadTooLargeException"}
                )
            await self.clients.send(conn, data.decode("utf-8"))
            return 200, {}, b""
        if method == "GET":
            return json_reply(
                200,
                {
                    "ConnectedAt": datetime.fromtimestamp(conn.connected_at, UTC).isoformat(),
                    "LastActiveAt": datetime.fromtimestamp(conn.last_active, UTC).isoformat(),
                    "Identity": {"SourceIp": conn.source_ip, "UserAgent": conn.user_agent},
                },
            )
        await conn.ws.close(code=1000, message=b"Closed by server")
        return 204, {}, b""


class ConnectionsInProcess:
    """The functions' @connections calls to this stack, answered on its event loop by ConnectionsApi.connection_call
    without a loopback HTTP request per frame. The gate (IAM, LOCAL_FAULTS) sees each call first; clients'
    WebSockets are unchanged. Answers nothing until `loop` is set (the server's, once it serves)."""

    def __init__(self, api: ConnectionsApi, base_url: str) -> None:
        self.api = api
        self.prefix = f"{base_url}/"
        self.loop: asyncio.AbstractEventLoop | None = None

    def check(self, event_name: str, request: Any) -> Any:
        """API Gateway's answer to a @connections request for this stack; None for anything else."""
        loop = self.loop
        url = str(request.url)
        if loop is None or loop.is_closed() or not event_name.startswith("before-send.apigatewaymanagementapi."):
            return None
        _, found, connection = urlsplit(url).path.partition("/@connections/")
        if not url.startswith(self.prefix) or not found or not connection:
            return None
        try:
            if asyncio.get_running_loop() is loop:  # never on the loop itself: it would wait for itself
                return None
        except RuntimeError:
            pass
        call = self.api.connection_call(
            str(request.method).upper(),
            unquote(connection),
            request_body(request),
            request_header(request, INVOKE_KEY_HEADER, ""),
        )
        status, headers, raw = asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)
        return botocore_response(url, status, {"x-amzn-RequestId": str(uuid.uuid4()), **headers}, raw)


__all__ = ["CONNECTIONS_PATH", "ConnectionsApi", "ConnectionsInProcess"]

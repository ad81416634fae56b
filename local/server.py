"""The local stack: template.yaml on one machine, as strict as AWS.

One aiohttp process on 127.0.0.1:$PORT emulates API Gateway (WebSocket at /ws with the $connect authorizer,
route selection and route responses; the @connections API; the HTTP API under /api/v1 with its Lambda
authorizer), serves a Lambda Invoke endpoint, and runs DynamoDB, Step Functions and SSM from moto in-process
(the real ASL runs; its Lambda tasks come back to the invoke endpoint through AWS_ENDPOINT_URL_LAMBDA).

Strict mode (always on): every function's AWS calls are checked against its own role as SAM translates the
template (local.iam, local.gate); DynamoDB requests are atomic per item and transactions can conflict
(local.moto_patches); expired items are deleted by a TTL sweeper; LOCAL_FAULTS injects AWS errors (local.faults).
All state lives in memory and is gone when the process stops.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gc
import hmac
import io
import json
import logging
import os
import re
import secrets
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import WSMsgType, web
from botocore.awsrequest import AWSResponse

from local import gate
from local.faults import FaultPlan, parse_faults
from local.gate import INVOKE_KEY_HEADER, Gate
from local.lambdas import FunctionRegistry, load_functions
from local.template import ACCOUNT_ID, REGION, ROOT, LocalResolver, create_tables, load_template, resources_of_type
from local.web import local_site_config, security_headers
from smart_support.agent.model_errors import inject_faults as inject_model_faults
from smart_support.settings import InvalidSettings, LocalStackSettings, load_settings

log = logging.getLogger("local")
WEB_DIR = ROOT / "web"
STAGE = "local"
API_ID = "localws"
HTTP_API_ID = "localhttp"
MAX_MESSAGE_BYTES = 128 * 1024
HTTP_API_MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway HTTP APIs take request bodies up to 10 MB
IDLE_TIMEOUT_SECONDS = 600
OPENAI_API_KEY_PARAMETER = "/smart-support/openai-api-key"  # where OPENAI_API_KEY is seeded unless one is named


@dataclass
class Connection:
    """An open client WebSocket."""

    connection_id: str
    ws: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float
    authorizer: dict[str, Any]
    last_active: float = field(default_factory=time.time)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _request_time() -> str:
    return datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(payload).encode()


def _new_connection_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode()[:-2] + "="


class LocalStack:
    """Owns moto, the functions and the aiohttp application."""

    def __init__(self, config: LocalStackSettings) -> None:
        self.config = config
        self.template = load_template()
        self.connections: dict[str, Connection] = {}
        self.frames_out: Counter[str] = Counter()
        self.executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="lambda")
        self._mock: Any = None
        self.functions: FunctionRegistry
        self.ws_routes: dict[str, dict[str, Any]] = {}
        self.http_routes: list[dict[str, Any]] = []
        self.state_machine_arn = ""
        self.gate: Gate | None = None
        self.invoke_key = secrets.token_urlsafe(24)  # the state machine's Lambda calls carry it (local.gate)
        self.sweeper: Any = None
        self.connections_api: ConnectionsInProcess | None = None
        self.invoke_api: InvokeInProcess | None = None

    # ------------------------------------------------------------ boot
    def boot(self) -> None:
        """Start moto, create the template's tables and state machine, load the functions."""
        cfg = self.config
        os.environ.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_SESSION_TOKEN="local",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL_LAMBDA=cfg.base_url,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_DEV="false",
        )
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AUTH_SECRET", None)  # functions read the secret from SSM, as in AWS; it only seeds SSM here
        os.environ.pop("OPENAI_API_KEY", None)  # the same for a model endpoint's key (the agent's role must allow it)
        from moto import mock_aws

        from local import moto_patches
        from local.iam import roles_by_principal, translated_template
        from local.moto_patches.ttl_sweeper import TtlSweeper

        faults = FaultPlan(parse_faults(cfg.local_faults))  # a bad LOCAL_FAULTS fails the boot, not the first request
        translated = translated_template()
        moto_patches.install()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        import boto3

        parameters = {
            "Stage": STAGE,
            "SessionTtlSeconds": str(cfg.session_ttl_seconds),
            "ApprovalTimeoutSeconds": str(cfg.approval_timeout_seconds),
            "AllowAnonymous": "true" if cfg.allow_anonymous else "false",
            "ModelProvider": cfg.model_provider,
            "OpenAiBaseUrl": cfg.openai_base_url or "",
            "OpenAiModel": cfg.openai_model,
            "OpenAiApiKeyParameter": (cfg.openai_api_key_parameter or OPENAI_API_KEY_PARAMETER)
            if cfg.openai_api_key
            else "",
            "RateLimitTurnsPerMinute": str(cfg.rate_limit_turns_per_minute),
            "RateLimitFramesPerSecond": str(cfg.rate_limit_frames_per_second),
        }
        resolver = LocalResolver(self.template, parameters=parameters, base_url=cfg.base_url)
        resolver.physical["WebSocketApi"] = API_ID
        create_tables(boto3.client("dynamodb", region_name=REGION), self.template)
        self.state_machine_arn = self._create_state_machine(resolver)
        resolver.physical["TurnStateMachine"] = self.state_machine_arn
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=resolver.parameter("AuthSecretParameterName"), Value=cfg.auth_secret, Type="SecureString"
        )
        if cfg.openai_api_key:
            boto3.client("ssm", region_name=REGION).put_parameter(
                Name=resolver.parameter("OpenAiApiKeyParameter"), Value=cfg.openai_api_key, Type="SecureString"
            )

        # consulted after the gate (IAM, LOCAL_FAULTS), which is installed next
        self.connections_api = gate.install(ConnectionsInProcess(self))
        self.invoke_api = gate.install(InvokeInProcess(self))
        policy_resolver = LocalResolver(translated, parameters=parameters, physical=dict(resolver.physical))
        roles = roles_by_principal(translated, policy_resolver)
        for principal, action in cfg.revoked():
            roles[principal] = roles[principal].without(action)
        self.gate = gate.install(
            Gate(
                roles,
                api_id=API_ID,
                interpreter_principal=self._state_machine_logical_id(),
                faults=faults,
                state_machine_of_token=self._state_machine_of_token,
                usage_log=cfg.local_iam_usage_log,
                invoke_key=self.invoke_key,
            )
        )

        # The offline model's faults (`bedrock.ConverseStream=throttlingException@0.3`), counted with the rest.
        inject_model_faults(lambda operation: faults.pick("bedrock", operation))
        self.functions = load_functions(self.template, resolver)
        merged: dict[str, str] = {}
        for function in self.functions.functions.values():
            merged.update(function.environment)
        merged.update(
            WEBSOCKET_ENDPOINT=f"{cfg.base_url}/{STAGE}",
            OFFLINE_TOKEN_DELAY_MS=str(cfg.offline_token_delay_ms),
            OFFLINE_FIRST_TOKEN_MS=str(cfg.offline_first_token_ms),
            CONTEXT_TOKENS=str(cfg.context_tokens),
            ROUTER=cfg.router,
            POWERTOOLS_LOG_LEVEL=cfg.log_level,
        )
        os.environ.update(merged)  # one process: every function sees the same (non-conflicting) settings
        if cfg.seed_demo_data:
            from smart_support.store.demo_data import seed_orders

            seed_orders(boto3.client("dynamodb", region_name=REGION), merged["ORDERS_TABLE"])
        self._read_routes()
        for function in self.functions.functions.values():
            try:
                function.load()
            except Exception as exc:  # reported, retried on first invoke
                print(f"warning: {function.logical_id} failed to load: {exc!r}", file=sys.stderr, flush=True)
        self.sweeper = TtlSweeper(cfg.ttl_sweep_seconds).start()

    def _state_machine_logical_id(self) -> str:
        return next(iter(resources_of_type(self.template, "AWS::Serverless::StateMachine")))

    def _state_machine_of_token(self, token: str) -> str | None:
        """The state machine whose execution issued `token` (what AWS evaluates SendTask* against)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
        for machine in list(backend.state_machines):
            for execution in list(machine.executions):
                worker = getattr(execution, "exec_worker", None)
                env = getattr(worker, "env", None)
                if env is not None and env.callback_pool_manager.get(token) is not None:
                    return str(machine.arn)
        return self.state_machine_arn or None  # a token of a finished execution: still this stack's one machine

    def _create_state_machine(self, resolver: LocalResolver) -> str:
        import boto3

        ((logical_id, resource),) = resources_of_type(self.template, "AWS::Serverless::StateMachine").items()
        props = resource["Properties"]
        definition = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(resolver.resolve(value)))
        json.loads(definition)  # fail fast on a bad substitution
        sfn = boto3.client("stepfunctions", region_name=REGION)
        created = sfn.create_state_machine(
            name=str(resolver.resolve(props["Name"])) if "Name" in props else logical_id,
            definition=definition,
            type=props.get("Type", "STANDARD"),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}Role",
        )
        return str(created["stateMachineArn"])

    def _read_routes(self) -> None:
        integrations = {}
        for logical_id, res in resources_of_type(self.template, "AWS::ApiGatewayV2::Integration").items():
            uri = res["Properties"]["IntegrationUri"]["Fn::Sub"]
            function = re.search(r"functions/\$\{(\w+)\.Arn\}", uri)
            integrations[logical_id] = function.group(1) if function else None
        authorizers = {}
        for logical_id, res in resources_of_type(self.template, "AWS::ApiGatewayV2::Authorizer").items():
            uri = res["Properties"]["AuthorizerUri"]["Fn::Sub"]
            function = re.search(r"functions/\$\{(\w+)\.Arn\}", uri)
            authorizers[logical_id] = function.group(1) if function else None
        two_way = {
            res["Properties"]["RouteId"]["Ref"]
            for res in resources_of_type(self.template, "AWS::ApiGatewayV2::RouteResponse").values()
        }
        for logical_id, res in resources_of_type(self.template, "AWS::ApiGatewayV2::Route").items():
            props = res["Properties"]
            target = props["Target"]["Fn::Sub"].split("${", 1)[1].rstrip("}")
            authorizer = (
                props.get("AuthorizerId", {}).get("Ref") if props.get("AuthorizationType") == "CUSTOM" else None
            )
            self.ws_routes[props["RouteKey"]] = {
                "function": integrations[target],
                "authorizer": authorizers.get(authorizer) if authorizer else None,
                "two_way": logical_id in two_way,
            }
        http_api = next(iter(resources_of_type(self.template, "AWS::Serverless::HttpApi").values()))
        auth = http_api["Properties"].get("Auth", {})
        default_authorizer = auth.get("DefaultAuthorizer")
        authorizer_functions = {
            name: spec["FunctionArn"]["Fn::GetAtt"][0] for name, spec in auth.get("Authorizers", {}).items()
        }
        for function_id, res in resources_of_type(self.template, "AWS::Serverless::Function").items():
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
                self.http_routes.append(
                    {
                        "path": path,
                        "method": props.get("Method", "ANY").upper(),
                        "regex": re.compile(pattern, re.DOTALL),  # a path may hold any (decoded) character
                        "function": function_id,
                        "greedy": "+}" in path,
                        "authorizer": None if authorizer == "NONE" else authorizer_functions.get(authorizer),
                    }
                )
        self.http_routes.sort(key=lambda r: r["greedy"])  # exact routes win over {proxy+}

    def shutdown(self) -> None:
        """Stop moto and the worker threads."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.gate is not None:
            gate.uninstall(self.gate)
            self.gate = None
            inject_model_faults(None)
        if self.connections_api is not None:
            gate.uninstall(self.connections_api)
            self.connections_api = None
        if self.invoke_api is not None:
            gate.uninstall(self.invoke_api)
            self.invoke_api = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    # ------------------------------------------------------------ lambda
    async def invoke(self, function_id: str, event: Any) -> tuple[Any, dict[str, Any] | None]:
        """Run a function in the worker pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.functions.invoke, function_id, event)

    async def handle_invoke(self, request: web.Request) -> web.Response:
        """POST /2015-03-31/functions/{name}/invocations (what the state machine's Lambda tasks call)."""
        payload = await request.read()
        call = functools.partial(
            self.invoke_call,
            request.headers.get(INVOKE_KEY_HEADER, ""),
            unquote(request.match_info["name"]),
            request.headers.get("X-Amz-Invocation-Type", "RequestResponse"),
            payload,
        )
        status, headers, body = await asyncio.get_running_loop().run_in_executor(None, call)  # it waits on a worker
        return web.Response(status=status, body=body or None, headers=headers)

    def invoke_call(
        self, key: str, name: str, invocation_type: str, payload: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """One Lambda Invoke request: (status, headers, body) as the invoke endpoint answers it (blocks until the
        function returns; an Event invocation is queued on the workers and answered 202 at once)."""
        if not hmac.compare_digest(key, self.invoke_key):
            # Only this stack's state machine may run a function here (it would skip the authorizer and approvals).
            return _json(403, {"Type": "User", "message": "Forbidden"})
        event = json.loads(payload) if payload else {}
        started = time.monotonic()
        try:
            function = self.functions.find(name)
        except KeyError:
            return _json(
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException", "x-amzn-RequestId": str(uuid.uuid4())},
            )
        if invocation_type == "Event":
            self.executor.submit(self.functions.invoke, name, event)
            return 202, {}, b""
        result, error = self.executor.submit(self.functions.invoke, function.logical_id, event).result()
        self._log_invoke(function.logical_id, event, error, started)
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "X-Amz-Executed-Version": "$LATEST"}
        if error:
            return _json(200, error, {**headers, "X-Amz-Function-Error": "Unhandled"})
        return 200, {"Content-Type": "application/json", **headers}, json.dumps(result).encode()

    def _log_invoke(self, function_id: str, event: Any, error: dict[str, Any] | None, started: float) -> None:
        task = event.get("task") if isinstance(event, dict) else None
        turn = event.get("turn", {}) if isinstance(event, dict) else {}
        ms = (time.monotonic() - started) * 1000
        outcome = f"error {error['errorType']}: {error['errorMessage']}" if error else "ok"
        print(
            f"{time.strftime('%H:%M:%S')} task  {function_id:<16} {task or '-':<15} "
            f"thread={turn.get('thread_id', '-')} turn={turn.get('turn', '-')} {ms:6.0f} ms  {outcome}",
            flush=True,
        )

    # ------------------------------------------------------------ websocket
    def _request_context(
        self, route_key: str, event_type: str, conn_id: str, connected_at: float, source_ip: str, user_agent: str
    ) -> dict[str, Any]:
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": _request_time(),
            "stage": STAGE,
            "connectedAt": int(connected_at * 1000),
            "requestTimeEpoch": _now_ms(),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "requestId": str(uuid.uuid4()),
            "domainName": f"{self.config.host}:{self.config.port}",
            "connectionId": conn_id,
            "apiId": API_ID,
        }

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        """The API Gateway WebSocket emulation at /ws."""
        if not self._origin_allowed(request.headers.get("Origin")):
            # A page on another site must not open a chat as whoever is signed in here (cross-site WebSocket).
            return web.json_response({"message": "Forbidden"}, status=403)
        conn_id = _new_connection_id()
        connected_at = time.time()
        source_ip = request.remote or "127.0.0.1"
        user_agent = request.headers.get("User-Agent", "")
        headers = dict(request.headers)
        query = dict(request.query)
        route = self.ws_routes["$connect"]
        authorizer_context: dict[str, Any] = {}
        if route["authorizer"]:
            auth_event = {
                "type": "REQUEST",
                "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/$connect",
                "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
                "queryStringParameters": query,
                "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
                "stageVariables": {},
                "requestContext": self._request_context(
                    "$connect", "CONNECT", conn_id, connected_at, source_ip, user_agent
                ),
            }
            result, error = await self.invoke(route["authorizer"], auth_event)
            if error:
                self._log_ws(conn_id, "$connect", "refused 401")
                return web.json_response({"message": "Unauthorized"}, status=401)
            statements = result.get("policyDocument", {}).get("Statement", [])
            if not statements or any(s.get("Effect") != "Allow" for s in statements):
                self._log_ws(conn_id, "$connect", "refused 403")
                return web.json_response({"message": "Forbidden"}, status=403)
            authorizer_context = {**result.get("context", {}), "principalId": result.get("principalId")}
        connect_event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "isBase64Encoded": False,
            "requestContext": {
                **self._request_context("$connect", "CONNECT", conn_id, connected_at, source_ip, user_agent),
                "authorizer": authorizer_context or None,
            },
        }
        result, error = await self.invoke(route["function"], connect_event)
        status = 500 if error else int((result or {}).get("statusCode", 200))
        if status >= 300:
            self._log_ws(conn_id, "$connect", f"refused {status}")
            return web.json_response({"message": "Forbidden"}, status=403 if status < 500 else 500)

        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=None)
        await ws.prepare(request)
        conn = Connection(conn_id, ws, source_ip, user_agent, connected_at, authorizer_context)
        self.connections[conn_id] = conn
        self._log_ws(conn_id, "$connect", f"principal={authorizer_context.get('sub', '-')}")
        pending: set[asyncio.Task[None]] = set()
        reason, code = "Client closed", 1000
        try:
            while True:
                try:
                    msg = await ws.receive(timeout=IDLE_TIMEOUT_SECONDS)
                except TimeoutError:
                    reason, code = "Idle timeout", 1001
                    await ws.close(code=1001, message=b"Going away")
                    break
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    conn.last_active = time.time()
                    body = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8", "replace")
                    task = asyncio.create_task(self._route_frame(conn, body))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                elif msg.type == WSMsgType.ERROR:
                    reason, code = "Message too big" if "size" in str(ws.exception()) else "Error", 1009
                    break
                else:
                    break
        finally:
            self.connections.pop(conn_id, None)
            disconnect_event = {
                "headers": {},
                "multiValueHeaders": {},
                "isBase64Encoded": False,
                "requestContext": {
                    **self._request_context("$disconnect", "DISCONNECT", conn_id, connected_at, source_ip, user_agent),
                    "disconnectStatusCode": ws.close_code or code,
                    "disconnectReason": reason,
                    "authorizer": authorizer_context or None,
                },
            }
            await self.invoke(self.ws_routes["$disconnect"]["function"], disconnect_event)
            self._log_ws(conn_id, "$disconnect", reason)
        return ws

    def _select_route(self, body: str) -> str:
        try:
            data = json.loads(body)
        except ValueError:
            return "$default"
        key = data.get("type") if isinstance(data, dict) else None
        if isinstance(key, str) and key in self.ws_routes and not key.startswith("$"):
            return key
        return "$default"

    async def _route_frame(self, conn: Connection, body: str) -> None:
        route_key = self._select_route(body)
        route = self.ws_routes[route_key]
        started = time.monotonic()
        request_context = self._request_context(
            route_key, "MESSAGE", conn.connection_id, conn.connected_at, conn.source_ip, conn.user_agent
        )
        request_context.update(
            messageId=base64.b64encode(secrets.token_bytes(6)).decode(), authorizer=conn.authorizer or None
        )
        event = {"body": body, "isBase64Encoded": False, "requestContext": request_context}
        result, error = await self.invoke(route["function"], event)
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
        elif route["two_way"] and isinstance(result, dict) and result.get("body"):
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
        self._log_ws(conn.connection_id, route_key, f"{outcome} {(time.monotonic() - started) * 1000:.0f} ms")
        if reply is not None and not conn.ws.closed:
            self.frames_out[conn.connection_id] += 1
            await conn.ws.send_str(reply)

    def _log_ws(self, conn_id: str, route: str, detail: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} ws    {conn_id:<16} {route:<18} {detail}", flush=True)

    # ------------------------------------------------------------ @connections
    async def handle_connection_api(self, request: web.Request) -> web.Response:
        """POST/GET/DELETE /{stage}/@connections/{id}: the management API the functions call."""
        conn_id = unquote(request.match_info["connection_id"])
        data = await request.read() if request.method == "POST" else b""
        status, headers, body = await self.connection_call(request.method, conn_id, data)
        return web.Response(status=status, body=body or None, headers=headers)

    async def connection_call(self, method: str, conn_id: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """One @connections request: (status, headers, body) as API Gateway answers it."""
        conn = self.connections.get(conn_id)
        if conn is None or conn.ws.closed:
            return _json(410, {"message": "Gone"}, {"x-amzn-ErrorType": "GoneException"})
        if method == "POST":
            if len(data) > MAX_MESSAGE_BYTES:
                return _json(413, {"message": "Payload too large"}, {"x-amzn-ErrorType": "PayloadTooLargeException"})
            self.frames_out[conn_id] += 1
            await conn.ws.send_str(data.decode("utf-8"))
            return 200, {}, b""
        if method == "GET":
            return _json(
                200,
                {
                    "ConnectedAt": datetime.fromtimestamp(conn.connected_at, UTC).isoformat(),
                    "LastActiveAt": datetime.fromtimestamp(conn.last_active, UTC).isoformat(),
                    "Identity": {"SourceIp": conn.source_ip, "UserAgent": conn.user_agent},
                },
            )
        await conn.ws.close(code=1000, message=b"Closed by server")
        return 204, {}, b""

    # ------------------------------------------------------------ HTTP API
    async def handle_http_api(self, request: web.Request) -> web.Response:
        """/api/v1/* (and /<stage>/api/v1/*, as API Gateway serves a named stage): the template's HttpApi routes."""
        path = request.path.removeprefix(f"/{STAGE}")
        route, params = None, {}
        for candidate in self.http_routes:
            match = candidate["regex"].match(path)
            if match and candidate["method"] in ("ANY", request.method):
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
            "routeKey": f"{route['method']} {route['path']}",
            "stage": STAGE,
            "time": _request_time(),
            "timeEpoch": _now_ms(),
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
        if route["authorizer"]:
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
            result, error = await self.invoke(route["authorizer"], auth_event)
            if error:
                return web.json_response({"message": "Internal Server Error"}, status=500, headers=self._cors(request))
            if not result.get("isAuthorized"):
                self._log_http(request, 403, started)
                return web.json_response({"message": "Forbidden"}, status=403, headers=self._cors(request))
            context["authorizer"] = {"lambda": result.get("context") or {}}
        result, error = await self.invoke(route["function"], event)
        if error:
            self._log_http(request, 500, started)
            return web.json_response({"message": "Internal Server Error"}, status=500, headers=self._cors(request))
        status = int(result.get("statusCode", 200))
        response_headers = {**self._cors(request), **(result.get("headers") or {})}
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        self._log_http(request, status, started)
        return web.Response(status=status, body=raw, headers=response_headers)

    def _origin_allowed(self, origin: str | None) -> bool:
        """The stack's own origin, or one of ALLOWED_ORIGINS (no Origin header: not a browser, allowed)."""
        return origin is None or origin.rstrip("/") in self.config.origins()

    def _cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin or not self._origin_allowed(origin):
            return {"Vary": "Origin"}  # no CORS grant: a browser page elsewhere cannot read the answer
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": "authorization,content-type",
            "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
            "Vary": "Origin",
        }

    def _log_http(self, request: web.Request, status: int, started: float) -> None:
        print(
            f"{time.strftime('%H:%M:%S')} http  {request.method:<6} {request.path:<40} {status} "
            f"{(time.monotonic() - started) * 1000:.0f} ms",
            flush=True,
        )

    # ------------------------------------------------------------ static + stats
    def _page_headers(self, request: web.Request) -> dict[str, str]:
        """What CloudFront adds to every page in AWS (the template's headers policy), with this stack's origins."""
        return {
            **security_headers(self.template, f"ws://{request.host}", f"http://{request.host}"),
            "Cache-Control": "no-store",
        }

    async def handle_static(self, request: web.Request) -> web.StreamResponse:
        """The web chat (/) and the operator console (/console), with the pages' security headers."""
        name = request.match_info.get("name") or "index.html"
        if request.path == "/console":
            name = "console.html"
        path = (WEB_DIR / name).resolve()
        if WEB_DIR.resolve() not in path.parents or not path.is_file():
            raise web.HTTPNotFound(headers=self._page_headers(request))
        return web.FileResponse(path, headers=self._page_headers(request))

    async def handle_site_config(self, request: web.Request) -> web.Response:
        """/config.json beside the pages (make deploy writes it from the stack outputs): this stack's own URLs."""
        return web.json_response(local_site_config(request.host), headers=self._page_headers(request))

    async def handle_stats(self, _: web.Request) -> web.Response:
        """Counters for tests and benchmarks: invocations, frames, IAM checks and denials, faults, TTL, conflicts."""
        from local.moto_patches.item_locks import LOCKS

        return web.json_response(
            {
                "invocations": dict(self.functions.invocations),
                "frames_out": sum(self.frames_out.values()),
                "connections": len(self.connections),
                "iam": self.gate.stats() if self.gate else {},
                "ttl_deleted": self.sweeper.deleted if self.sweeper else 0,
                "dynamodb_conflicts": LOCKS.conflicts,
            }
        )

    async def handle_executions(self, request: web.Request) -> web.Response:
        """Step Functions executions of the turn state machine with the states each entered (tests, bench)."""
        loop = asyncio.get_running_loop()
        query = request.query
        # the default executor: the stack's own calls carry no function's credentials (Lambda workers always do)
        return web.json_response(
            await loop.run_in_executor(None, self._executions, query.get("name"), query.get("prefix"))
        )

    def _executions(self, name: str | None, prefix: str | None = None) -> list[dict[str, Any]]:
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        runs = sfn.list_executions(stateMachineArn=self.state_machine_arn, maxResults=1000)["executions"]
        out = []
        for run in runs:
            if (name and run["name"] != name) or (prefix and not run["name"].startswith(prefix)):
                continue
            events = sfn.get_execution_history(executionArn=run["executionArn"], maxResults=1000)["events"]
            states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
            out.append({"name": run["name"], "status": run["status"], "states": states})
        return out

    async def _serving(self, _: web.Application) -> None:
        if self.connections_api is not None:
            self.connections_api.loop = asyncio.get_running_loop()

    def application(self) -> web.Application:
        """The aiohttp app with every route."""
        app = web.Application(client_max_size=HTTP_API_MAX_PAYLOAD)
        app.on_startup.append(self._serving)
        app.router.add_get("/ws", self.handle_ws)
        app.router.add_route("*", "/{stage}/@connections/{connection_id}", self.handle_connection_api)
        app.router.add_post("/2015-03-31/functions/{name}/invocations", self.handle_invoke)
        # [\s\S]: a path may hold any character, a decoded newline too (API Gateway routes it like any other)
        app.router.add_route("*", r"/api/v1/{tail:[\s\S]*}", self.handle_http_api)
        app.router.add_route("*", rf"/{STAGE}/api/v1/{{tail:[\s\S]*}}", self.handle_http_api)  # the stage's own URL
        app.router.add_get("/_local/stats", self.handle_stats)
        app.router.add_get("/_local/executions", self.handle_executions)
        app.router.add_get("/", self.handle_static)
        app.router.add_get("/console", self.handle_static)
        app.router.add_get("/static/{name:.+}", self.handle_static)
        app.router.add_get("/config.json", self.handle_site_config)
        return app


class ConnectionsInProcess:
    """The functions' @connections calls to this stack, answered on its event loop by the handler the HTTP route
    uses (LocalStack.connection_call), without a loopback HTTP request per frame; the functions run in this process,
    as moto's services do. The gate (IAM, LOCAL_FAULTS) sees each call first; clients' WebSockets are unchanged."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.prefix = f"{stack.config.base_url}/"
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
        body = request.body
        data = body if isinstance(body, bytes) else str(body or "").encode()
        call = self.stack.connection_call(str(request.method).upper(), unquote(connection), data)
        status, headers, raw = asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)
        return AWSResponse(url, status, {"x-amzn-RequestId": str(uuid.uuid4()), **headers}, _Body(raw))


class InvokeInProcess:
    """The state machine's Lambda Invoke calls to this stack, answered by the invoke endpoint's own handler
    (LocalStack.invoke_call) in the calling thread, without a loopback HTTP request per task: moto's interpreter runs
    in this process. The gate (IAM, LOCAL_FAULTS) sees each call first and adds the invoke key, which is checked
    here as the endpoint checks it; the HTTP route stays for anything else."""

    PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.prefix = f"{stack.config.base_url}/"

    def check(self, event_name: str, request: Any) -> Any:
        """Lambda's answer to an Invoke request for this stack; None for anything else."""
        url = str(request.url)
        if event_name != "before-send.lambda.Invoke" or not url.startswith(self.prefix):
            return None
        match = self.PATH.fullmatch(urlsplit(url).path)
        if match is None:
            return None
        try:
            asyncio.get_running_loop()  # never on an event loop: it would wait for the function there
            return None
        except RuntimeError:
            pass
        body = request.body
        status, answer, raw = self.stack.invoke_call(
            _header(request, INVOKE_KEY_HEADER, ""),
            unquote(match.group(1)),
            _header(request, "X-Amz-Invocation-Type", "RequestResponse"),
            body if isinstance(body, bytes) else str(body or "").encode(),
        )
        return AWSResponse(url, status, {"Content-Length": str(len(raw)), **answer}, _Body(raw))


def _header(request: Any, name: str, default: str) -> str:
    """A header of a botocore request as text (botocore keeps some as bytes)."""
    value = request.headers.get(name, default)
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


def main() -> None:
    """`python -m local`: boot and serve until Ctrl-C."""
    try:
        config = load_settings(LocalStackSettings)
    except InvalidSettings as exc:
        sys.exit(f"local stack not started: {exc}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # its interpreter logs every Fail state as an error
    stack = LocalStack(config)
    started = time.monotonic()
    stack.boot()
    # What the boot loaded (moto's and botocore's service models, the functions' modules and clients) lives as long as
    # the process: the collector's full passes skip it from now on (they took about 7 % of the stack's CPU).
    gc.collect()
    gc.freeze()
    app = stack.application()

    async def on_startup(_: web.Application) -> None:
        print(
            f"smart-support local stack ready in {time.monotonic() - started:.1f} s "
            f"(model={config.model_provider}, anonymous={config.allow_anonymous}, "
            f"session ttl={config.session_ttl_seconds}s, approval timeout={config.approval_timeout_seconds}s, "
            f"faults={config.local_faults or 'none'})\n"
            f"  strict like AWS: each function's calls checked against its role from the SAM-translated template;\n"
            f"  DynamoDB atomic per item (transactions can conflict); TTL sweep every {config.ttl_sweep_seconds:g} s\n"
            f"  All state (DynamoDB, Step Functions, SSM) lives in memory and is gone when this process stops.\n"
            f"  web chat         {config.base_url}/\n"
            f"  operator console {config.base_url}/console\n"
            f"  WebSocket        ws://{config.host}:{config.port}/ws\n"
            f"  HTTP API         {config.base_url}/api/v1  (docs: {config.base_url}/api/v1/docs)\n"
            f"  Ctrl-C stops it",
            flush=True,
        )

    app.on_startup.append(on_startup)
    try:
        web.run_app(
            app, host=config.host, port=config.port, print=None, handle_signals=True, shutdown_timeout=2, backlog=512
        )
    finally:
        stack.shutdown()
        print("local stack stopped: its in-memory state is gone", flush=True)
        sys.stdout.flush()


__all__ = ["LocalStack", "main"]

"""The local stack: template.yaml on one machine, as strict as AWS.

One aiohttp process on 127.0.0.1:$PORT. `LocalStack.boot` runs DynamoDB, Step Functions and SSM from moto
in-process (the real ASL runs; its Lambda tasks come back to the Invoke API through AWS_ENDPOINT_URL_LAMBDA),
creates the template's tables, state machine and parameters, puts the gate in front of every AWS call (each
function's calls checked against its own role as SAM translates the template, LOCAL_FAULTS injected: local.gate),
loads the functions and starts the TTL sweeper (local.ttl). `LocalStack.application` serves the emulated services
of local.services (API Gateway's WebSocket, @connections and HTTP APIs, Lambda's Invoke API) and the web pages
(local.web). All state lives in memory and is gone when the process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import sys
import time
from typing import TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from local import gate
from local.faults import FaultPlan, parse_faults
from local.gate import Checker, Gate
from local.guests import GUEST_PATH, Guests
from local.lambdas import FunctionRegistry, load_functions
from local.request_log import RequestLog
from local.services import apigw_http
from local.services.apigw import STAGE, WEBSOCKET_API_ID
from local.services.apigw_connections import CONNECTIONS_PATH, ConnectionsApi, ConnectionsInProcess
from local.services.apigw_websocket import WebSocketApi
from local.services.lambda_invoke import INVOKE_PATH, InvokeInProcess, LambdaService
from local.services.step_functions import StateMachine
from local.settings import LOCAL_ORDER_API_TOKEN, LocalStackSettings
from local.template import REGION, LocalResolver, create_tables, load_template
from local.ttl import TtlSweeper
from local.web import SitePages
from smart_support.agent.model_errors import inject_faults as inject_model_faults
from smart_support.settings import InvalidSettings, load_settings
from smart_support.store.orders import OrderStore

C = TypeVar("C", bound=Checker)


class LocalStack:
    """Owns moto, the functions and the emulated services, and assembles them into one aiohttp application."""

    def __init__(self, config: LocalStackSettings, *, quiet: bool = False) -> None:
        self.config = config
        self.template = load_template()
        # quiet: no per-request lines (local.inprocess); a connection id is an address to post to: DEBUG only
        self.log = RequestLog(quiet, connection_ids=config.log_level.upper() == "DEBUG")
        # the functions' and the state machine's calls to the Invoke and @connections APIs carry it (local.gate)
        self.invoke_key = secrets.token_urlsafe(24)
        self.state_machine = StateMachine(self.template)
        self.state_machine_arn = ""
        self.pages = SitePages(self.template, config)
        self.functions: FunctionRegistry
        self.lambdas: LambdaService
        self.guests: Guests
        self.websocket: WebSocketApi
        self.connections_api: ConnectionsApi
        self.connections_in_process: ConnectionsInProcess
        self.http_api: apigw_http.HttpApi
        self.gate: Gate | None = None
        self.sweeper: TtlSweeper | None = None
        self._running = contextlib.ExitStack()  # what boot started, stopped by shutdown (latest first)

    # ------------------------------------------------------------ boot
    def boot(self) -> None:
        """Start moto, create the template's tables, state machine and parameters, load the functions."""
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
        os.environ.pop("ORDER_API_TOKEN", None)  # and for the order API's token
        from moto import mock_aws

        from local import moto_patches
        from local.iam import roles_by_principal, translated_template

        faults = FaultPlan(parse_faults(cfg.local_faults))  # a bad LOCAL_FAULTS fails the boot, not the first request
        translated = translated_template()
        moto_patches.install()
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        self._running.callback(mock.stop)
        import boto3

        order_api = None
        if cfg.order_backend == "http" and not cfg.order_api_url:  # a newcomer sees the http path work
            from local.order_api import FakeOrderApi

            order_api = FakeOrderApi(token=cfg.order_api_token or LOCAL_ORDER_API_TOKEN).start()
            self._running.callback(order_api.stop)
            print(f"ORDER_BACKEND=http: the fake order API serves the demo orders at {order_api.url}", flush=True)
        parameters = cfg.template_parameters(STAGE, order_api)
        resolver = LocalResolver(self.template, parameters=parameters, base_url=cfg.base_url)
        resolver.physical["WebSocketApi"] = WEBSOCKET_API_ID
        create_tables(boto3.client("dynamodb", region_name=REGION), self.template)
        from local.template import create_buckets  # the help center's bucket, empty as a new stack's

        resolver.physical.update(create_buckets(boto3.client("s3", region_name=REGION), self.template))
        self.state_machine_arn = self.state_machine.create(resolver)
        resolver.physical[self.state_machine.logical_id] = self.state_machine_arn
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(
            Name=resolver.parameter("AuthSecretParameterName"), Value=cfg.auth_secret, Type="SecureString"
        )
        if cfg.openai_api_key:
            ssm.put_parameter(
                Name=resolver.parameter("OpenAiApiKeyParameter"), Value=cfg.openai_api_key, Type="SecureString"
            )
        if order_api_token := cfg.order_api_token_of(order_api):
            ssm.put_parameter(
                Name=resolver.parameter("OrderApiTokenParameter"), Value=order_api_token, Type="SecureString"
            )

        # The offline model's faults (`bedrock.ConverseStream=throttlingException@0.3`), counted with the rest.
        inject_model_faults(lambda operation: faults.pick("bedrock", operation))
        self._running.callback(inject_model_faults, None)
        self.functions = load_functions(self.template, resolver)
        self.lambdas = LambdaService(self.functions, self.invoke_key, self.log)
        self._running.callback(self.lambdas.shutdown)
        self.guests = Guests(cfg)
        self.websocket = WebSocketApi(cfg, self.template, self.lambdas, self.log, self.guests.first_use)
        self.connections_api = ConnectionsApi(self.websocket.clients, self.invoke_key)
        self.http_api = apigw_http.HttpApi(cfg, self.template, self.lambdas, self.log)

        # the in-process answers are consulted after the gate (IAM, LOCAL_FAULTS), which is installed next
        self.connections_in_process = self._install(ConnectionsInProcess(self.connections_api, cfg.base_url))
        self._install(InvokeInProcess(self.lambdas, cfg.base_url))
        policy_resolver = LocalResolver(translated, parameters=parameters, physical=dict(resolver.physical))
        roles = roles_by_principal(translated, policy_resolver)
        for principal, action in cfg.revoked():
            roles[principal] = roles[principal].without(action)
        self.gate = self._install(
            Gate(
                roles,
                api_id=WEBSOCKET_API_ID,
                interpreter_principal=self.state_machine.logical_id,
                faults=faults,
                state_machine_of_token=self.state_machine.issuer_of_token,
                usage_log=cfg.local_iam_usage_log,
                invoke_key=self.invoke_key,
            )
        )

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
        if cfg.seed_demo_data:  # for demo-customer now, for each guest on its first connection (local.guests)
            from smart_support.store.demo_data import seed_orders

            dynamodb = boto3.client("dynamodb", region_name=REGION)
            seed_orders(dynamodb, merged["ORDERS_TABLE"])
            self.guests.orders = OrderStore(merged["ORDERS_TABLE"], dynamodb=dynamodb)
        for function in self.functions.functions.values():
            try:
                function.load()
            except Exception as exc:  # reported, retried on first invoke
                print(f"warning: {function.logical_id} failed to load: {exc!r}", file=sys.stderr, flush=True)
        self.sweeper = TtlSweeper(cfg.ttl_sweep_seconds).start()
        self._running.callback(self.sweeper.stop)

    def _install(self, checker: C) -> C:
        """Consult `checker` on every AWS call of this process until shutdown (local.gate)."""
        self._running.callback(gate.uninstall, checker)
        return gate.install(checker)

    def shutdown(self) -> None:
        """Stop the sweeper, the gate, the worker threads and moto."""
        self._running.close()
        self.gate = None

    # ------------------------------------------------------------ serving
    async def handle_stats(self, _: web.Request) -> web.Response:
        """Counters for tests and benchmarks: invocations, frames, IAM checks and denials, faults, TTL, conflicts."""
        from local.moto_patches.item_locks import LOCKS

        return web.json_response(
            {
                "invocations": dict(self.functions.invocations),
                "frames_out": self.websocket.clients.frames_out,
                "connections": len(self.websocket.clients.open),
                "iam": self.gate.stats() if self.gate else {},
                "ttl_deleted": self.sweeper.deleted if self.sweeper else 0,
                "dynamodb_conflicts": LOCKS.conflicts,
            }
        )

    async def _serving(self, _: web.Application) -> None:
        self.connections_in_process.loop = asyncio.get_running_loop()

    @web.middleware
    async def _known_host_only(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every route answers only requests naming this stack in their Host (settings.allows_host: DNS rebinding)."""
        if not self.config.allows_host(request.headers.get(hdrs.HOST)):
            return web.json_response({"message": "Forbidden"}, status=403)
        return await handler(request)

    def application(self) -> web.Application:
        """The aiohttp app with every route."""
        app = web.Application(client_max_size=apigw_http.MAX_PAYLOAD, middlewares=[self._known_host_only])
        app.on_startup.append(self._serving)
        app.router.add_get("/ws", self.websocket.handle_ws)
        app.router.add_route("*", CONNECTIONS_PATH, self.connections_api.handle_connection_api)
        app.router.add_post(INVOKE_PATH, self.lambdas.handle_invoke)
        for path in apigw_http.PATHS:
            app.router.add_route("*", path, self.http_api.handle_http_api)
        app.router.add_get("/_local/stats", self.handle_stats)
        app.router.add_get("/_local/executions", self.state_machine.handle_executions)
        app.router.add_get("/", self.pages.handle_static)
        app.router.add_get("/console", self.pages.handle_static)
        app.router.add_get("/static/{name:.+}", self.pages.handle_static)
        app.router.add_get("/config.json", self.pages.handle_site_config)
        app.router.add_post(GUEST_PATH, self.guests.handle_guest)
        return app


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
            f"  web chat         {config.base_url}/  (each browser a guest of its own: {config.allow_anonymous})\n"
            f"  operator console {config.base_url}/console\n"
            f"  WebSocket        ws://{config.authority}/ws\n"
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

"""Lambda: the template's functions on a pool of worker threads, and the Invoke API the state machine calls.

`invoke` is how API Gateway's integrations run a function. The Invoke API (POST /2015-03-31/functions/{name}/
invocations) is what the state machine's Lambda tasks reach through AWS_ENDPOINT_URL_LAMBDA; it answers as Lambda
does (X-Amz-Function-Error and the error payload, so ASL Retry/Catch see the same error names; 202 for an Event
invocation; 404 ResourceNotFoundException), and only to calls carrying the invoke key the gate adds to the state
machine's own: a function run from elsewhere would skip the authorizer and the approvals. moto's interpreter calls
it in this process, so its calls are answered in the calling thread (InvokeInProcess); anything else uses HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web

from local.gate import INVOKE_KEY_HEADER, WORKER_THREAD_PREFIX
from local.lambdas import FunctionRegistry
from local.request_log import RequestLog
from local.services.replies import Reply, botocore_response, json_reply, request_body, request_header

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
WORKERS = 64  # Lambda's concurrency here (docs/local-stack.md, "Differences from AWS")


class LambdaService:
    """The functions, run on the worker pool; the Invoke API's answers."""

    def __init__(self, functions: FunctionRegistry, invoke_key: str, log: RequestLog) -> None:
        self.functions = functions
        self.invoke_key = invoke_key
        self.log = log
        self.executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=WORKER_THREAD_PREFIX)

    async def invoke(self, function_id: str, event: Any) -> tuple[Any, dict[str, Any] | None]:
        """Run a function in the worker pool: (result, None) or (None, Lambda's error payload)."""
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

    def invoke_call(self, key: str, name: str, invocation_type: str, payload: bytes) -> Reply:
        """One Lambda Invoke request: (status, headers, body) as the invoke endpoint answers it (blocks until the
        function returns; an Event invocation is queued on the workers and answered 202 at once)."""
        if not hmac.compare_digest(key, self.invoke_key):
            # Only this stack's state machine may run a function here (it would skip the authorizer and approvals).
            return json_reply(403, {"Type": "User", "message": "Forbidden"})
        event = json.loads(payload) if payload else {}
        started = time.monotonic()
        try:
            function = self.functions.find(name)
        except KeyError:
            return json_reply(
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException", "x-amzn-RequestId": str(uuid.uuid4())},
            )
        if invocation_type == "Event":
            self.executor.submit(self.functions.invoke, name, event)
            return 202, {}, b""
        result, error = self.executor.submit(self.functions.invoke, function.logical_id, event).result()
        self.log.task(function.logical_id, event, error, started)
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "X-Amz-Executed-Version": "$LATEST"}
        if error:
            return json_reply(200, error, {**headers, "X-Amz-Function-Error": "Unhandled"})
        return 200, {"Content-Type": "application/json", **headers}, json.dumps(result).encode()

    def shutdown(self) -> None:
        """Stop the workers (what is queued is dropped)."""
        self.executor.shutdown(wait=False, cancel_futures=True)


class InvokeInProcess:
    """The state machine's Lambda Invoke calls to this stack, answered by LambdaService.invoke_call in the calling
    thread. The gate (IAM, LOCAL_FAULTS) sees each call first and adds the invoke key, which is checked there as
    over HTTP."""

    PATH = re.compile(INVOKE_PATH.replace("{name}", "([^/]+)"))

    def __init__(self, lambdas: LambdaService, base_url: str) -> None:
        self.lambdas = lambdas
        self.prefix = f"{base_url}/"

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
        status, answer, raw = self.lambdas.invoke_call(
            request_header(request, INVOKE_KEY_HEADER, ""),
            unquote(match.group(1)),
            request_header(request, "X-Amz-Invocation-Type", "RequestResponse"),
            request_body(request),
        )
        return botocore_response(url, status, {"Content-Length": str(len(raw)), **answer}, raw)


__all__ = ["INVOKE_PATH", "InvokeInProcess", "LambdaService"]

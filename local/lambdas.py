"""The template's functions, loaded in-process and invoked the way Lambda would (event, context, errors)."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.gate import acting_as
from local.template import REGION, ROOT, function_arn

# Powertools' event handler keeps the request it resolves on the BaseRouter class (current_event, lambda_context):
# one request per process, which is how Lambda runs it, each concurrent request in an execution environment of its
# own. Here every function shares one process and each function one loaded module, so the invocations of functions
# that resolve requests with Powertools take turns (two at once answered one of them with a 500).
_RESOLVING = threading.Lock()
POWERTOOLS_RESOLVERS = "aws_lambda_powertools.event_handler.api_gateway"


def holds_resolver(module: ModuleType) -> bool:
    """True when the handler module routes with a Powertools resolver (its request is kept process-wide)."""
    api_gateway = sys.modules.get(POWERTOOLS_RESOLVERS)  # not loaded: no module can hold one
    if api_gateway is None:
        return False
    return any(isinstance(value, api_gateway.BaseRouter) for value in vars(module).values())


@dataclass
class LocalContext:
    """The attributes of the Lambda context object that the handlers (and Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        """ARN of the invoked function."""
        return function_arn(self.function_name)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the configured timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """One AWS::Serverless::Function of the template."""

    logical_id: str
    code_uri: str
    handler: str
    memory: int
    timeout: int
    environment: dict[str, str]
    module: ModuleType | None = None
    one_at_a_time: bool = False  # its invocations take turns (see _RESOLVING)

    def load(self) -> None:
        """Import the handler module from its CodeUri (a cold start)."""
        module_name, _ = self.handler.rsplit(".", 1)
        path = ROOT / self.code_uri / f"{module_name.replace('.', '/')}.py"
        spec = importlib.util.spec_from_file_location(f"functions_{self.logical_id}_{module_name}", path)
        if spec is None or spec.loader is None:
            raise ImportError(path)
        module = importlib.util.module_from_spec(spec)
        with acting_as(self.logical_id):  # a cold start's AWS calls use the function's role too
            spec.loader.exec_module(module)
        self.one_at_a_time = holds_resolver(module)
        self.module = module

    def invoke(self, event: Any) -> tuple[Any, dict[str, Any] | None]:
        """Run the handler: (result, None) or (None, Lambda's error payload)."""
        context = LocalContext(self.logical_id, self.memory, self.timeout)
        try:
            if self.module is None:
                self.load()
            handler = getattr(self.module, self.handler.rsplit(".", 1)[1])
            turn: AbstractContextManager[object] = _RESOLVING if self.one_at_a_time else nullcontext()
            with turn, acting_as(self.logical_id):  # every AWS call it makes is checked against its own role
                return handler(event, context), None
        except Exception as exc:
            return None, {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }


@dataclass
class FunctionRegistry:
    """Functions by logical id, with how often each was invoked."""

    functions: dict[str, LocalFunction]
    invocations: Counter[str] = field(default_factory=Counter)

    def find(self, name_or_arn: str) -> LocalFunction:
        """Look up by name, ARN or qualified ARN."""
        name = name_or_arn
        if name.startswith("arn:"):
            name = name.split(":function:", 1)[1]
        name = name.split(":", 1)[0]
        return self.functions[name]

    def invoke(self, name_or_arn: str, event: Any) -> tuple[Any, dict[str, Any] | None]:
        """Invoke by name or ARN."""
        function = self.find(name_or_arn)
        self.invocations[function.logical_id] += 1
        return function.invoke(event)


def load_functions(template: dict[str, Any], resolver: Any) -> FunctionRegistry:
    """Every function of the template, with its resolved environment (Globals + its own)."""
    globals_fn = template.get("Globals", {}).get("Function", {})
    global_env = globals_fn.get("Environment", {}).get("Variables", {})
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            code_uri=props["CodeUri"],
            handler=props.get("Handler", globals_fn.get("Handler", "app.lambda_handler")),
            memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            environment={k: str(resolver.resolve(v)) for k, v in env.items()},
        )
    return FunctionRegistry(functions)


__all__ = ["REGION", "FunctionRegistry", "LocalContext", "LocalFunction", "load_functions"]

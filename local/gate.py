"""What every AWS request of the local stack's functions passes before it reaches moto or the stack: IAM, then faults.

The functions share one process, so "whose credentials sign this call" is the principal named by `acting_as` around
each invocation (a ContextVar: LangGraph's worker threads copy it). moto's Step Functions interpreter calls Lambda
Invoke through boto3 with its own fixed access key ("ak") from threads of its own: those calls act as the state
machine's role. Calls made by the stack itself (booting, the TTL sweeper, the harness) carry no principal and pass
unchecked; a call without a principal from a Lambda worker thread is an attribution leak and is refused.

The gate runs inside moto's `before-send` stubber (patched), so a refused or faulted request never reaches the
backend, and botocore's retry handler sees the error exactly as it would see AWS's.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from local.faults import FaultPlan, error_response
from local.iam import Call, Role, required_permissions
from local.template import ACCOUNT_ID

PRINCIPAL: ContextVar[str | None] = ContextVar("local_principal", default=None)
INVOKE_KEY_HEADER = "X-Smart-Support-Invoke-Key"
KEYED_SERVICES = ("lambda", "apigatewaymanagementapi")  # the stack's own endpoints answer only calls with its key
INTERPRETER_ACCESS_KEY = "ak"  # moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for
WORKER_THREAD_PREFIX = "lambda"


@contextlib.contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """AWS calls made inside the block (and in threads that copy the context) use `principal`'s role."""
    token = PRINCIPAL.set(principal)
    try:
        yield
    finally:
        PRINCIPAL.reset(token)


@dataclass
class Denial:
    """One refused call."""

    principal: str
    action: str
    resource: str


@dataclass
class Gate:
    """IAM enforcement and fault injection for every request made under a principal."""

    roles: dict[str, Role]
    api_id: str
    interpreter_principal: str | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    state_machine_of_token: Callable[[str], str | None] | None = None
    checked: Counter[str] = field(default_factory=Counter)
    unattributed: Counter[str] = field(default_factory=Counter)  # the stack's own calls, by thread kind and call
    denials: deque[Denial] = field(default_factory=lambda: deque(maxlen=200))
    invoke_key: str = ""  # added to Lambda and @connections calls: the stack's endpoints answer only those
    usage_log: str | None = None  # where to append each distinct permission used (to derive least privilege)
    used: set[tuple[str, str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def principal_of(self, request: Any) -> str | None:
        """Whose credentials signed the request."""
        principal = PRINCIPAL.get()
        if principal is None and self.interpreter_principal:
            auth = str(request.headers.get("Authorization", ""))
            if f"Credential={INTERPRETER_ACCESS_KEY}/" in auth:
                principal = self.interpreter_principal
        return principal

    def check(self, event_name: str, request: Any) -> Any:
        """An error response if IAM refuses the call or a fault fires; None to let it through."""
        principal = self.principal_of(request)
        if principal is None:
            thread = threading.current_thread().name
            with self._lock:
                self.unattributed[f"{thread.rstrip('0123456789_-')}:{event_name.split('.', 1)[1]}"] += 1
            if thread.startswith(WORKER_THREAD_PREFIX):
                call = Call.from_request(event_name, request)
                return self._deny("(no principal)", "(unattributed)", f"{call.service}:{call.operation}", "*", call)
            return None
        call = Call.from_request(event_name, request)
        with self._lock:
            self.checked[principal] += 1
        role = self.roles.get(principal)
        for action, resource in required_permissions(
            call, api_id=self.api_id, state_machine_of_token=self.state_machine_of_token
        ):
            if role is None or not role.allows(action, resource):
                return self._deny(principal, role.name if role else "(no role)", action, resource, call)
            if self.usage_log:
                self._record(principal, action, resource)
        if call.service in KEYED_SERVICES and self.invoke_key:
            request.headers[INVOKE_KEY_HEADER] = self.invoke_key
        code = self.faults.pick(call.service, call.operation)
        if code:
            return error_response(call.service, call.operation, code, call.body)
        return None

    def _record(self, principal: str, action: str, resource: str) -> None:
        with self._lock:
            if (principal, action, resource) in self.used:
                return
            self.used.add((principal, action, resource))
            with open(str(self.usage_log), "a", encoding="utf-8") as log:
                log.write(json.dumps({"principal": principal, "action": action, "resource": resource}) + "\n")

    def _deny(self, principal: str, role_name: str, action: str, resource: str, call: Call) -> Any:
        with self._lock:
            self.denials.append(Denial(principal, action, resource))
        message = (
            f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{principal} is not authorized to perform: "
            f"{action} on resource: {resource} because no identity-based policy allows the {action} action"
        )
        return error_response(call.service, call.operation, "AccessDeniedException", call.body, message=message)

    def stats(self) -> dict[str, Any]:
        """Checked calls by principal, refused calls, injected faults."""
        with self._lock:
            return {
                "checked": dict(self.checked),
                "unattributed": dict(self.unattributed),
                "denied": [vars(d) for d in self.denials],
                "faults": dict(self.faults.injected),
            }


class Checker(Protocol):
    """Anything that may answer a request before moto does (a Gate, or a test's fault injector)."""

    def check(self, event_name: str, request: Any) -> Any:
        """An AWSResponse to answer with, or None."""


_ACTIVE: list[Checker] = []
C = TypeVar("C", bound=Checker)


def _checked_first(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's BotocoreStubber.__call__, answering first with the response of an active checker, if one has any."""

    @functools.wraps(original)
    def gated(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        for active in reversed(list(_ACTIVE)):
            response = active.check(event_name, request)
            if response is not None:
                return response
        return original(self, event_name, request, **kwargs)

    return gated


def install(checker: C) -> C:
    """Consult `checker` on every botocore request of this process before moto's stubber (latest installed first)."""
    from moto.core.botocore_stubber import BotocoreStubber

    if not hasattr(BotocoreStubber.__call__, "__wrapped__"):  # once per process: our wrapper names what it wraps
        # A method replaced on moto's class: the type checker refuses the plain assignment to a method.
        setattr(BotocoreStubber, "__call__", _checked_first(BotocoreStubber.__call__))  # noqa: B010
    _ACTIVE.append(checker)
    return checker


def uninstall(checker: Checker) -> None:
    """Stop consulting `checker`."""
    if checker in _ACTIVE:
        _ACTIVE.remove(checker)


__all__ = ["INVOKE_KEY_HEADER", "PRINCIPAL", "Checker", "Denial", "Gate", "acting_as", "install", "uninstall"]

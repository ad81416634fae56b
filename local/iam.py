"""IAM as AWS enforces it: each function's role from template.yaml as SAM translates it, each call checked against it.

A role's statements come from the translated template (SAM policy templates expanded, intrinsics resolved to the
local names and ARNs). `required_permissions` names what a request needs, action and resource ARN, the way the
service authorization reference does: a DynamoDB transaction needs PutItem/UpdateItem/DeleteItem/ConditionCheckItem
on each item's table, a query on an index needs the index ARN, @connections needs execute-api:ManageConnections on
`<api>/<stage>/<METHOD>/@connections/<id>`. moto's own IAM mode checks DynamoDB and Step Functions against resource
`*` only, so the stack matches resources itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from local.template import ACCOUNT_ID, REGION, ROOT, TEMPLATE_PATH, LocalResolver

CACHE_DIR = ROOT / ".aws-sam" / "local"
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
PRINCIPAL_TYPES = {"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"}
# The AWS managed policies SAM attaches to every function; nothing here calls CloudWatch Logs or X-Ray directly.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}
DYNAMODB_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
SERVICE_PREFIX = {"sfn": "states", "apigatewaymanagementapi": "execute-api"}
# bedrock-runtime's operations are authorized by bedrock's InvokeModel actions (the Converse API has none of its own)
BEDROCK_RUNTIME_ACTIONS = {
    "Converse": "bedrock:InvokeModel",
    "InvokeModel": "bedrock:InvokeModel",
    "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
}
INFERENCE_PROFILE_ID = re.compile(r"^(us|us-gov|eu|apac|jp|au|ca|global)\.(.+)$")


# ---------------------------------------------------------------- translation


def translated_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as SAM translates it, cached by content under .aws-sam/local/."""
    text = path.read_text(encoding="utf-8")
    cached = CACHE_DIR / f"translated-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text(encoding="utf-8")))
    try:
        from local.sam_translate import translate

        result = translate(text)
    except ImportError:  # aws-sam-translator lives in the tools venv (SAM pins its own pydantic range)
        result = _translate_with_tools(path)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(result), encoding="utf-8")
    partial.replace(cached)
    return result


def _translate_with_tools(path: Path) -> dict[str, Any]:
    python = Path(os.environ.get("SAM_TRANSLATOR_PYTHON") or TOOLS_PYTHON)
    if not python.exists():
        sys.exit(
            "The local stack enforces the template's IAM policies as SAM translates them and needs "
            "aws-sam-translator: run `make tools` (or set SAM_TRANSLATOR_PYTHON to a python that has it)."
        )
    done = subprocess.run(
        [str(python), "-m", "local.sam_translate", str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AWS_DEFAULT_REGION": REGION},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"SAM could not translate {path}:\n{done.stderr}")
    return dict(json.loads(done.stdout))


# ---------------------------------------------------------------- policies


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


@cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: `*` any run of characters, `?` one character."""
    return bool(_pattern(pattern, ignore_case).match(value))


@dataclass(frozen=True)
class Statement:
    """One resolved policy statement."""

    effect: str
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditional: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Statement:
        """From a resolved policy document's statement."""
        return cls(
            effect=str(raw.get("Effect", "Allow")),
            actions=_as_list(raw.get("Action")),
            resources=_as_list(raw.get("Resource")),
            not_actions=_as_list(raw.get("NotAction")),
            not_resources=_as_list(raw.get("NotResource")),
            conditional=bool(raw.get("Condition")),
        )

    def applies(self, action: str, resource: str) -> bool:
        """Action and resource are in this statement's scope (a Condition never holds locally: stricter, not kinder)."""
        if self.conditional:
            return False
        if self.actions:
            action_ok = any(matches(p, action, ignore_case=True) for p in self.actions)
        else:
            action_ok = not any(matches(p, action, ignore_case=True) for p in self.not_actions)
        if self.resources:
            resource_ok = any(matches(p, resource) for p in self.resources)
        else:
            resource_ok = not any(matches(p, resource) for p in self.not_resources)
        return action_ok and resource_ok


DECISIONS_KEPT = 4096  # per role: (action, resource) pairs whose answer is kept (resources name connections, too)


@dataclass(frozen=True)
class Role:
    """An IAM role: its name (as in the translated template) and every statement of its policies."""

    name: str
    statements: tuple[Statement, ...] = field(default_factory=tuple)
    # A role never changes (revoking makes a new one), so neither does its answer for an action on a resource.
    _decisions: dict[tuple[str, str], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def allows(self, action: str, resource: str) -> bool:
        """Explicit deny wins, then any allow; otherwise the implicit deny."""
        decision = self._decisions.get((action, resource))
        if decision is None:
            decision = self._evaluate(action, resource)
            if len(self._decisions) >= DECISIONS_KEPT:
                self._decisions.clear()
            self._decisions[(action, resource)] = decision
        return decision

    def _evaluate(self, action: str, resource: str) -> bool:
        relevant = [s for s in self.statements if s.applies(action, resource)]
        if any(s.effect == "Deny" for s in relevant):
            return False
        return any(s.effect == "Allow" for s in relevant)

    def without(self, action: str) -> Role:
        """The same role with `action` taken out of every statement (to see what its absence breaks)."""
        kept = []
        for statement in self.statements:
            actions = tuple(a for a in statement.actions if a.lower() != action.lower())
            if statement.actions and not actions:
                continue
            kept.append(replace(statement, actions=actions))
        return replace(self, statements=tuple(kept))


def roles_by_principal(translated: dict[str, Any], resolver: LocalResolver) -> dict[str, Role]:
    """Each function's and state machine's role (by the principal's logical id) with resolved statements."""
    resources = translated["Resources"]
    roles: dict[str, Role] = {}
    for logical_id, resource in resources.items():
        role_property = PRINCIPAL_TYPES.get(resource["Type"])
        if role_property is None:
            continue
        role_ref = resource["Properties"][role_property]
        role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) else str(role_ref)
        props = resources[role_id]["Properties"]
        raw: list[dict[str, Any]] = []
        for policy in props.get("Policies", []):
            document = resolver.resolve(policy["PolicyDocument"])
            raw.extend(_as_statements(document.get("Statement")))
        for arn in props.get("ManagedPolicyArns", []):
            raw.extend(MANAGED_POLICIES.get(str(resolver.resolve(arn)), []))
        roles[logical_id] = Role(role_id, tuple(Statement.parse(s) for s in raw))
    return roles


def _as_statements(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# ---------------------------------------------------------------- what a request needs


@dataclass(frozen=True)
class Call:
    """One AWS request as the stack sees it on the wire."""

    service: str  # botocore's hyphenized service id: dynamodb, sfn, ssm, lambda, apigatewaymanagementapi
    operation: str
    url: str
    method: str
    body: dict[str, Any]

    @classmethod
    def from_request(cls, event_name: str, request: Any) -> Call:
        """From a before-send event name (before-send.<service>.<Operation>) and the prepared request."""
        _, service, operation = event_name.split(".", 2)
        raw = request.body
        if hasattr(raw, "read"):  # a stream: JSON protocols send bytes, so this is some other payload
            raw = b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        body: dict[str, Any] = {}
        if text.startswith("{"):
            try:
                body = json.loads(text)
            except ValueError:
                body = {}
        return cls(service, operation, str(request.url), str(request.method).upper(), body)


def _table_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def required_permissions(call: Call, *, api_id: str, state_machine_of_token: Any = None) -> list[tuple[str, str]]:
    """(action, resource ARN) pairs the call needs, all of them."""
    body = call.body
    if call.service == "dynamodb":
        return _dynamodb_permissions(call.operation, body)
    if call.service == "sfn":
        action = f"states:{call.operation}"
        if "executionArn" in body:
            return [(action, str(body["executionArn"]))]
        if "stateMachineArn" in body:
            return [(action, str(body["stateMachineArn"]))]
        if "taskToken" in body:  # evaluated against the state machine that issued the token
            owner = state_machine_of_token(body["taskToken"]) if state_machine_of_token else None
            return [(action, owner or "*")]
        return [(action, "*")]
    if call.service == "ssm":
        names = [body["Name"]] if "Name" in body else list(body.get("Names", []))
        if "Path" in body:
            names.append(body["Path"])
        return [(f"ssm:{call.operation}", _parameter_arn(str(n))) for n in names] or [(f"ssm:{call.operation}", "*")]
    if call.service == "apigatewaymanagementapi":
        path = unquote(urlsplit(call.url).path).strip("/")
        stage, _, connection = path.partition("/@connections/")
        return [
            (
                "execute-api:ManageConnections",
                f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/{call.method}/@connections/{connection}",
            )
        ]
    if call.service == "s3":
        return _s3_permissions(call)
    if call.service == "lambda" and call.operation == "Invoke":
        match = re.search(r"/functions/([^/]+)/invocations", urlsplit(call.url).path)
        name = unquote(match.group(1)) if match else "*"
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        query = urlsplit(call.url).query
        qualifier = re.search(r"(?:^|&)Qualifier=([^&]+)", query)
        if qualifier:
            arn = f"{arn}:{unquote(qualifier.group(1))}"
        return [("lambda:InvokeFunction", arn)]
    if call.service == "bedrock-runtime" and call.operation in BEDROCK_RUNTIME_ACTIONS:
        return _bedrock_permissions(BEDROCK_RUNTIME_ACTIONS[call.operation], call.url)
    prefix = SERVICE_PREFIX.get(call.service, call.service)
    return [(f"{prefix}:{call.operation}", "*")]


def _bedrock_permissions(action: str, url: str) -> list[tuple[str, str]]:
    """A model call needs the action on the model; through a cross-region inference profile, on the profile and on
    the foundation model it routes to (in any of the profile's regions: the local region stands for them)."""
    match = re.search(r"/model/([^/]+)/", urlsplit(url).path)
    model = unquote(match.group(1)) if match else "*"
    if model.startswith("arn:"):
        return [(action, model)]
    profile = INFERENCE_PROFILE_ID.match(model)
    if profile is None:
        return [(action, f"arn:aws:bedrock:{REGION}::foundation-model/{model}")]
    return [
        (action, f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/{model}"),
        (action, f"arn:aws:bedrock:{REGION}::foundation-model/{profile.group(2)}"),
    ]


# S3 operations whose action is not `s3:<Operation>` (the service authorization reference), on an object or a bucket.
S3_OBJECT_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "CopyObject": "s3:PutObject",
}
S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
}


def _s3_permissions(call: Call) -> list[tuple[str, str]]:
    """An object operation needs its action on `arn:aws:s3:::bucket/key`, a bucket operation on `arn:aws:s3:::bucket`
    (virtual-hosted or path-style URL alike)."""
    parts = urlsplit(call.url)
    host, path = parts.hostname or "", unquote(parts.path).lstrip("/")
    virtual = re.match(r"^(?P<bucket>.+)\.s3[.-]", host)
    bucket, _, key = (f"{virtual.group('bucket')}/{path}" if virtual else path).partition("/")
    if key or call.operation in S3_OBJECT_ACTIONS:
        return [(S3_OBJECT_ACTIONS.get(call.operation, f"s3:{call.operation}"), f"arn:aws:s3:::{bucket}/{key}")]
    return [(S3_BUCKET_ACTIONS.get(call.operation, f"s3:{call.operation}"), f"arn:aws:s3:::{bucket}")]


def _parameter_arn(name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}"


def _dynamodb_permissions(operation: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":
        out = []
        for entry in body.get("TransactItems", []):
            ((kind, spec),) = entry.items()
            out.append((f"dynamodb:{DYNAMODB_TRANSACT_ACTIONS[kind]}", _table_arn(spec["TableName"])))
        return out
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", _table_arn(e["Get"]["TableName"])) for e in body.get("TransactItems", [])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table_arn(t)) for t in body.get("RequestItems", {})]
    if "TableName" not in body:
        return [(f"dynamodb:{operation}", "*")]
    arn = _table_arn(str(body["TableName"]))
    if body.get("IndexName"):
        arn = f"{arn}/index/{body['IndexName']}"
    return [(f"dynamodb:{operation}", arn)]


__all__ = [
    "Call",
    "Role",
    "Statement",
    "matches",
    "required_permissions",
    "roles_by_principal",
    "translated_template",
]

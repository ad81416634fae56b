"""docs/security.md's IAM table says what template.yaml grants, role by role, as SAM translates it."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from local.iam import translated_template

ROOT = Path(__file__).resolve().parents[2]
HEADER = "| function | actions | resources | why |"
MANAGED = "AWS managed"

Statements = dict[frozenset[str], str]  # actions -> the resources cell of their row


def doc_section() -> str:
    """The "IAM, function by function" section of docs/security.md."""
    text = (ROOT / "docs/security.md").read_text(encoding="utf-8")
    start = text.index("## IAM, function by function")
    return text[start : text.index("\n## ", start + 1)]


def doc_table(section: str) -> tuple[dict[str, Statements], dict[str, set[str]]]:
    """Per owner (function, state machine or role): its statements and its AWS managed policies, as the doc says."""
    lines = section.splitlines()
    rows = lines[lines.index(HEADER) + 2 :]
    statements: dict[str, Statements] = defaultdict(dict)
    managed: dict[str, set[str]] = defaultdict(set)
    owner = ""
    for row in rows:
        if not row.startswith("|"):
            break
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        owner = cells[0].split()[0] if cells[0] else owner
        names = re.findall(r"`([^`]+)`", cells[1])
        if cells[1].startswith(MANAGED):
            managed[owner].update(names)
            continue
        actions, prefix = set(), ""
        for name in names:
            prefix = name.split(":", 1)[0] if ":" in name else prefix
            actions.add(name if ":" in name else f"{prefix}:{name}")
        statements[owner][frozenset(actions)] = cells[2]
    return dict(statements), dict(managed)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [f"${{{v}}}" if k == "Ref" else s for k, v in value.items() for s in _strings(v)]
    return []


def resource_tokens(resource: Any, resources: dict[str, Any]) -> set[str]:
    """What a statement's resources name that the doc must name too: our tables, index, buckets (and the key prefix
    a statement is scoped to), state machine, functions, the @connections path, `*`."""
    tokens = set()
    for text in _strings(resource):
        for name in re.findall(r"\$\{([A-Za-z0-9]+)\}", text):
            if resources.get(name, {}).get("Type") in (
                "AWS::DynamoDB::Table",
                "AWS::StepFunctions::StateMachine",
                "AWS::Serverless::StateMachine",
                "AWS::Lambda::Function",
                "AWS::S3::Bucket",
            ):
                tokens.add(name)
        tokens.update(f"`{prefix}/*`" for prefix in re.findall(r":s3:::\$\{\w+\}/([\w-]+)/\*", text))
        tokens.update(re.findall(r"/index/(\w+)", text))
        tokens.update(re.findall(r":parameter\$\{(\w+)\}", text))  # an SSM parameter by its template parameter
        if "@connections/*" in text:
            tokens.add("@connections/*")
        if text.endswith("}-turn"):
            tokens.add("-turn")
        if text == "*":
            tokens.add("`*`")
    return tokens


def granted(statements: list[Any]) -> list[dict[str, Any]]:
    """The statements a policy can grant: both branches of a conditional one (`!If [Cond, statement, NoValue]`)."""
    found = []
    for statement in statements:
        if "Fn::If" in statement:
            _, *branches = statement["Fn::If"]
            found += granted([b for b in branches if b != {"Ref": "AWS::NoValue"}])
        else:
            found.append(statement)
    return found


def template_roles() -> tuple[dict[str, dict[frozenset[str], set[str]]], dict[str, set[str]]]:
    """Per owner: its statements (actions -> tokens of their resources) and managed policies, from the translation."""
    template = translated_template()
    resources = template["Resources"]
    statements: dict[str, dict[frozenset[str], set[str]]] = {}
    managed: dict[str, set[str]] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        owner = name.removesuffix("Role") if name.removesuffix("Role") in resources else name
        props = resource["Properties"]
        merged: dict[frozenset[str], set[str]] = defaultdict(set)
        for policy in props.get("Policies", []):
            for statement in granted(policy["PolicyDocument"]["Statement"]):
                assert statement["Effect"] == "Allow", (name, statement)
                actions = statement["Action"]
                key = frozenset([actions] if isinstance(actions, str) else actions)
                merged[key] |= resource_tokens(statement["Resource"], resources)
        statements[owner] = dict(merged)
        managed[owner] = {
            s.rsplit("/", 1)[-1] for arn in props.get("ManagedPolicyArns", []) for s in _strings(arn) if "/" in s
        }
    return statements, managed


def disagreements(section: str) -> list[str]:
    """Where the doc's IAM section and the translated template disagree (nothing: they agree)."""
    doc_statements, doc_managed = doc_table(section)
    statements, managed = template_roles()
    found = []
    owners = {owner for owner, said in statements.items() if said} | {o for o in managed if o in doc_managed}
    if set(doc_statements) | set(doc_managed) != owners:
        found.append(f"owners: doc {sorted(set(doc_statements) | set(doc_managed))}, template {sorted(owners)}")
    for owner, granted in statements.items():
        said = doc_statements.get(owner, {})
        for actions in set(said) ^ set(granted):
            found.append(f"{owner}: {sorted(actions)} {'only in the doc' if actions in said else 'not in the doc'}")
        for actions, tokens in granted.items():
            if actions in said and (missing := {t for t in tokens if t not in said[actions]}):
                found.append(f"{owner} {sorted(actions)}: the doc's resources do not name {sorted(missing)}")
    functions = {frozenset(names) for owner, names in managed.items() if owner.endswith("Function")}
    if functions != {frozenset({"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"})}:
        found.append(f"functions' managed policies: {functions}")
    for sentence in (
        "to every function's role: `AWSLambdaBasicExecutionRole`",
        "`AWSXrayWriteOnlyAccess`",
        "state machine's role gets `AWSXrayWriteOnlyAccess`",
    ):
        if sentence not in section:
            found.append(f"the doc no longer says {sentence!r}")
    if managed.get("TurnStateMachine") != {"AWSXrayWriteOnlyAccess"}:
        found.append(f"the state machine's managed policies: {managed.get('TurnStateMachine')}")
    found += [f"{o}: managed {n}" for o, n in doc_managed.items() if managed.get(o) != n]
    return found


def test_the_iam_table_says_what_the_template_grants():
    assert disagreements(doc_section()) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("| ConnectFunction | `dynamodb:PutItem` |", "| ConnectFunction | `dynamodb:PutItem`, `GetItem` |", "only in"),
        ("`Query`, `BatchGetItem` | ConversationsTable and its `GSI1` index", "`Query` | ConversationsTable", "not in"),
        ("`UpdateItem` | OrdersTable |", "`UpdateItem` | Orders |", "do not name"),
        ("KnowledgeBucket `index/*` | the help", "KnowledgeBucket `articles/*` | the help", "do not name"),
        ("| | `execute-api:ManageConnections` | the stage's `@connections/*` | streaming |", "", "not in the doc"),
        ("AWS managed `AmazonAPIGatewayPushToCloudWatchLogs`", "AWS managed `AdministratorAccess`", "managed"),
        ("to every function's role: `AWSLambdaBasicExecutionRole`", "to every role", "no longer says"),
    ],
)
def test_a_table_that_drifts_from_the_template_is_caught(old, new, expected):
    section = doc_section()
    assert old in section
    found = disagreements(section.replace(old, new))
    assert any(expected in problem for problem in found), found

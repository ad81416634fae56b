"""Read template.yaml: the one source of tables, functions, routes and the state machine for local runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
NO_VALUE = object()  # !Ref AWS::NoValue: the list item or property it stands for is left out, as CloudFormation does


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _tag(name: str):  # noqa: ANN202 - yaml constructor factory
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:
            raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{name}", node.start_mark)
        return {name: value}

    return construct


for _short, _long in {
    "Ref": "Ref",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "GetAZs": "Fn::GetAZs",
}.items():
    _CfnLoader.add_constructor(f"!{_short}", _tag(_long))


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse template.yaml with CloudFormation tags kept as intrinsic-function dicts."""
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    """Resources of one CloudFormation type, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """CreateTable kwargs for every AWS::DynamoDB::Table, keyed by logical id (also the local table name)."""
    template = template or load_template()
    tables = {}
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        tables[logical_id] = {"create": kwargs, "ttl": props.get("TimeToLiveSpecification")}
    return tables


def create_tables(dynamodb_client: Any, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Create every table of the template (with TTL) through a boto3 DynamoDB client; returns logical id -> name."""
    names = {}
    for logical_id, spec in table_definitions(template).items():
        dynamodb_client.create_table(**spec["create"])
        if spec["ttl"]:
            dynamodb_client.update_time_to_live(
                TableName=logical_id,
                TimeToLiveSpecification={
                    "AttributeName": spec["ttl"]["AttributeName"],
                    "Enabled": bool(spec["ttl"]["Enabled"]),
                },
            )
        names[logical_id] = logical_id
    return names


def create_buckets(s3_client: Any, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Create every AWS::S3::Bucket of the template (empty, as a new stack's are); returns logical id -> name.

    S3 wants lowercase names, so a bucket's local name is the stack's name and its logical id, lowercased, as
    CloudFormation names a bucket without a BucketName."""
    names = {}
    for logical_id in resources_of_type(template or load_template(), "AWS::S3::Bucket"):
        name = f"smart-support-local-{logical_id.lower()}"
        s3_client.create_bucket(Bucket=name)
        names[logical_id] = name
    return names


@dataclass
class LocalResolver:
    """Resolves intrinsic functions to the names and ARNs the local stack uses."""

    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    base_url: str = "http://127.0.0.1:3000"

    def parameter(self, name: str) -> str:
        """A parameter's value: an override, else the template default."""
        if name in self.parameters:
            return self.parameters[name]
        return str(self.template["Parameters"][name].get("Default", ""))

    def ref(self, name: str) -> str:
        """What !Ref means locally for a parameter, pseudo parameter or resource."""
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": "smart-support-local",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        if "." in name:  # e.g. AgentFunction.Alias: locally the function itself
            name = name.split(".", 1)[0]
        if name in self.physical:
            return self.physical[name]
        if name not in self.template["Resources"]:
            raise KeyError(f"!Ref {name}: no such parameter or resource")
        return name  # locally a resource's name is its logical id

    def condition(self, name: str) -> bool:
        """A template condition's value for the local parameters."""
        return self._truth(self.template.get("Conditions", {})[name])

    def _truth(self, expression: Any) -> bool:
        ((key, arg),) = expression.items()
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise KeyError(f"{key} has no local meaning")

    def get_att(self, logical_id: str, attribute: str) -> str:
        """What !GetAtt means locally."""
        resource = self.template["Resources"][logical_id]
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function") and attribute == "Arn":
            return function_arn(logical_id)
        if attribute == "Name":  # the resource's own Name when the template sets one (SAM: StateMachineName)
            props = resource.get("Properties", {})
            name = props.get("Name", props.get("StateMachineName"))
            return str(self.resolve(name)) if name is not None else logical_id
        if attribute == "Arn":
            return self.ref(logical_id)
        raise KeyError(f"{logical_id}.{attribute} has no local meaning")

    def sub(self, text: str, variables: dict[str, Any] | None = None) -> str:
        """Fn::Sub: ${Param}, ${Resource}, ${Resource.Attr}, pseudo parameters and its list form's variables."""

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if variables and token in variables:
                return str(self.resolve(variables[token]))
            if "." in token and not token.startswith("AWS::"):
                logical_id, attribute = token.split(".", 1)
                if self.template["Resources"].get(logical_id, {}).get("Type") == "AWS::ApiGatewayV2::Api":
                    return self.physical.get(logical_id, logical_id)
                return self.get_att(logical_id, attribute)
            if self.template["Resources"].get(token, {}).get("Type") == "AWS::ApiGatewayV2::Api":
                return self.physical.get(token, token)
            return self.ref(token)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        """Resolve a (possibly nested) template value to plain strings."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                return self.sub(arg) if isinstance(arg, str) else self.sub(arg[0], arg[1])
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
            if key == "Fn::Split":
                return self.resolve(arg[1]).split(arg[0])
            if key == "Fn::Join":
                return arg[0].join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in map(self.resolve, value) if v is not NO_VALUE]
        return value


def function_arn(logical_id: str) -> str:
    """The local ARN of a function."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"

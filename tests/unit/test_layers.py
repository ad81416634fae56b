"""Two dependency layers: the light functions never carry the agent's packages, and both pin one botocore."""

from __future__ import annotations

import importlib
import re

import pytest

from local.template import ROOT, load_template

LIGHT = ROOT / "layers/deps-light/requirements.txt"
AGENT = ROOT / "layers/deps-agent/requirements.txt"


def pins(path) -> dict[str, str]:
    """name -> version of each `name[extras]==version` line."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            out[match.group(1).lower()] = match.group(3)
    return out


def test_both_layers_pin_the_same_versions_of_what_they_share():
    light, agent = pins(LIGHT), pins(AGENT)

    assert light["boto3"] == agent["boto3"] and light["botocore"] == agent["botocore"]
    assert {name: agent[name] for name in light if name in agent} == {n: v for n, v in light.items() if n in agent}
    # the agent runs the same handler stack; only the authorizer's token crypto stays out of its layer
    assert set(light) - set(agent) == {"cryptography"}


def test_the_light_layer_holds_no_agent_package():
    light = pins(LIGHT)

    assert not [name for name in light if name.startswith(("langgraph", "langchain", "numpy", "langsmith"))]


def test_each_function_gets_its_own_dependency_layer():
    template = load_template()
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }

    layers = {logical_id: [ref["Ref"] for ref in props.get("Layers", [])] for logical_id, props in functions.items()}

    assert [ref["Ref"] for ref in template["Globals"]["Function"]["Layers"]] == ["CommonLayer"]
    assert layers.pop("AgentFunction") == ["AgentDepsLayer"]
    assert set(map(tuple, layers.values())) == {("LightDepsLayer",)}
    agent_layer = template["Resources"]["AgentDepsLayer"]
    assert agent_layer["Metadata"]["BuildMethod"] == "makefile"
    assert "build-AgentDepsLayer:" in (ROOT / "layers/deps-agent/Makefile").read_text(encoding="utf-8")


def test_the_suite_runs_without_what_the_agent_layer_drops():
    # tests/conftest.py hides layers/deps-agent/exclude.txt's packages, so every agent test is a turn without them
    for name in ("numpy", "zstandard"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(name)

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
    assert agent_layer["Metadata"]["ContextPath"] == "layers"
    assert "build-AgentDepsLayer:" in (ROOT / "layers/Makefile").read_text(encoding="utf-8")


def test_the_suite_runs_without_what_the_agent_layer_drops():
    # tests/conftest.py hides layers/deps-agent/exclude.txt's packages, so every agent test is a turn without them
    for name in ("numpy", "zstandard"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(name)


# What a light function's cold start must not load: the agent's packages, boto3 (its import brings s3transfer and
# multiprocessing; the clients are botocore's), the X-Ray SDK (set up by the first invocation) and Powertools'
# OpenAPI models (loaded by the first request for the API document), PyJWT outside the authorizer.
NOT_AT_IMPORT = ("langgraph", "langchain", "boto3", "s3transfer", "aws_xray_sdk")
NOT_AT_IMPORT_MODULES = ("aws_lambda_powertools.event_handler.openapi.models",)


@pytest.mark.parametrize(
    "function", ["connect", "disconnect", "message", "workflow", "api", "authorizer", "knowledge_ingest"]
)
def test_a_light_handler_imports_only_what_its_first_request_needs(function: str) -> None:
    import os
    import subprocess
    import sys

    from bench.packaging import function_environment

    task_root = ROOT / "functions" / function
    env = {
        **os.environ,
        **function_environment(function),
        "PYTHONPATH": os.pathsep.join([str(task_root), str(ROOT / "layers/common/python")]),
        "LAMBDA_TASK_ROOT": str(task_root),
    }
    probe = "import sys, app; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=task_root, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "app" in loaded
    heavy = [m for m in loaded if m.split(".")[0] in NOT_AT_IMPORT or m in NOT_AT_IMPORT_MODULES]
    heavy += [m for m in loaded if m == "jwt" and function != "authorizer"]
    assert not heavy, f"{function} imports {heavy[:8]} at init"

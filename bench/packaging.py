"""Layer sizes for python3.13/arm64 and cold-start import times of each function's handler module.

Both build the deps layer with pip the way `sam build` does (wheels only, for a target platform) into a cache
directory keyed by the requirements, so later runs reuse it:
- for arm64 (manylinux2014_aarch64): what Lambda unpacks, measured against the 250 MB limit;
- for this machine's platform: the same pinned packages, importable here, so the import times are those of the
  layer's contents (not of the dev venv, which holds extra packages such as cryptography that PyJWT would import).

Import times run in a fresh interpreter with `-S` (no site-packages) and a Lambda-like environment
(LAMBDA_TASK_ROOT set: the X-Ray SDK then skips its sampling client, as it does on Lambda), with the function's
own environment from template.yaml. Each figure is the median of several runs after one warm-up that writes
the bytecode caches.
"""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.template import ROOT, load_template

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # bytes: function code plus all its layers, unzipped
REQUIREMENTS = ROOT / "layers/deps/requirements.txt"
COMMON = ROOT / "layers/common/python"
LIGHT_FUNCTIONS = ("connect", "disconnect", "message", "workflow", "api", "authorizer")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smart-support-bench"
ARM64 = "manylinux2014_aarch64"


def host_platform() -> str:
    """The manylinux tag of this machine."""
    return f"manylinux2014_{platform.machine()}"


def build_deps(platform_tag: str) -> Path:
    """pip-install layers/deps/requirements.txt for python3.13 on `platform_tag` (cached by requirements hash)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    target = CACHE / f"deps-{platform_tag}-{digest}" / "python"
    if (target.parent / ".complete").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            "--platform",
            platform_tag,
            "--only-binary=:all:",
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
            "--upgrade",
            "--target",
            str(target),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    (target.parent / ".complete").touch()
    return target


def tree_size(path: Path, skip_pycache: bool = False) -> int:
    """Bytes of every file under `path`."""
    total = 0
    for root, dirs, files in os.walk(path):
        if skip_pycache:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
        total += sum((Path(root) / f).stat().st_size for f in files)
    return total


def layer_sizes() -> dict[str, Any]:
    """Unzipped size of each layer (arm64 deps, common) and of each function, against the 250 MB limit."""
    deps = build_deps(ARM64)
    packages = sorted(((tree_size(p), p.name) for p in deps.iterdir() if p.is_dir()), reverse=True)
    deps_bytes = tree_size(deps)
    common_bytes = tree_size(COMMON, skip_pycache=True)
    functions = {p.name: tree_size(p, skip_pycache=True) for p in sorted((ROOT / "functions").iterdir()) if p.is_dir()}
    largest = max(functions.values())
    total = deps_bytes + common_bytes + largest
    return {
        "platform": ARM64,
        "deps_bytes": deps_bytes,
        "common_bytes": common_bytes,
        "function_bytes": functions,
        "total_bytes": total,
        "limit_bytes": LAMBDA_UNZIPPED_LIMIT,
        "headroom_bytes": LAMBDA_UNZIPPED_LIMIT - total,
        "largest_packages": [{"name": name, "bytes": size} for size, name in packages[:8]],
    }


def function_environment(name: str) -> dict[str, str]:
    """The function's environment variables from template.yaml, with placeholder names and ARNs."""
    template = load_template()
    placeholders = {
        "ConversationsTable": "smart-support-dev-ConversationsTable",
        "OrdersTable": "smart-support-dev-OrdersTable",
        "CheckpointsTable": "smart-support-dev-CheckpointsTable",
        "TurnStateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:TurnStateMachine",
        "Stage": "dev",
        "WebSocketApi": "abc123",
    }
    params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            ref = str(value["Ref"])
            return placeholders.get(ref, params.get(ref, ref))
        if isinstance(value, dict) and "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for key, sub in {**params, **placeholders, "AWS::Region": "us-east-1"}.items():
                text = text.replace("${" + key + "}", sub)
            return text
        return str(value)

    global_env = template["Globals"]["Function"]["Environment"]["Variables"]
    (resource,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function" and r["Properties"]["CodeUri"].rstrip("/") == f"functions/{name}"
    ]
    own = resource["Properties"].get("Environment", {}).get("Variables", {})
    return {k: resolve(v) for k, v in {**global_env, **own}.items()}


_TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _time_import(module: str, cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    times = []
    for i in range(runs + 1):  # the first run writes __pycache__ and is not counted
        out = subprocess.run(
            [sys.executable, "-S", "-c", _TIMER.format(module=module)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"import {module} in {cwd} failed:\n{out.stderr[-2000:]}")
        if i:
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def cold_starts(runs: int = 5) -> dict[str, Any]:
    """Median import time of each handler module and of a bare `import boto3`, in fresh interpreters."""
    deps = build_deps(host_platform())
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_SESSION_TOKEN": "example",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    }
    functions = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
    out: dict[str, Any] = {"runs": runs, "python": platform.python_version(), "deps_platform": host_platform()}
    boto3_env = {**base_env, "PYTHONPATH": str(deps), "LAMBDA_TASK_ROOT": str(ROOT)}
    baseline = statistics.median(_time_import("boto3", ROOT, boto3_env, runs))
    out["boto3_s"] = baseline
    out["functions"] = {}
    for name in functions:
        task_root = ROOT / "functions" / name
        env = {
            **base_env,
            **function_environment(name),
            "PYTHONPATH": os.pathsep.join([str(task_root), str(COMMON), str(deps)]),
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": f"smart-support-{name}",
        }
        seconds = statistics.median(_time_import("app", task_root, env, runs))
        out["functions"][name] = {
            "import_s": seconds,
            "ratio_to_boto3": seconds / baseline,
            "light": name in LIGHT_FUNCTIONS,
        }
    return out


__all__ = ["LIGHT_FUNCTIONS", "cold_starts", "layer_sizes"]

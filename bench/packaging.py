"""Layer sizes for python3.13/arm64 and cold-start import times of each function's handler module.

Both build the layers the way `sam build` does, with their Makefiles (BuildMethod: makefile), into a cache
directory keyed by their files, so later runs reuse them: layers/Makefile in layers/deps-light (pip, botocore's
models of the services the light functions call, bytecode) and in layers/deps-agent (pip, then the packages no turn
imports removed), layers/common/Makefile (the package and its bytecode). The dependency layers are built
- for arm64 (manylinux2014_aarch64): what Lambda unpacks, measured against the 250 MB limit;
- for this machine's platform: the same pinned packages, importable here, so the import times are those of the
  layer's contents (not of the dev venv, which holds extra packages).

Import times run in a fresh interpreter with `-S` (no site-packages) on the function's own layers and a
Lambda-like environment, with the function's own environment from template.yaml: PYTHONDONTWRITEBYTECODE (only
the bytecode a layer ships is used, as on Lambda, whose /opt cannot be written), LAMBDA_TASK_ROOT (the X-Ray SDK
then skips its sampling client, as on Lambda). Each figure is the median of several runs after one warm-up (the
file system cache). Beside it: the same import from the layers without their bytecode, which is what Lambda would
run had the build not compiled it.
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

from local.template import ROOT, LocalResolver, load_template

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # bytes: function code plus all its layers, unzipped
LIGHT_LIMIT = 60 * 1024 * 1024  # bytes: a light function's code plus its layers, unzipped (issue 17)
LAYERS = {"light": ROOT / "layers/deps-light", "heavy": ROOT / "layers/deps-agent"}
DEPS_MAKEFILE = ROOT / "layers/Makefile"  # both dependency layers' (their ContextPath in template.yaml)
LAYER_IDS = {"light": "LightDepsLayer", "heavy": "AgentDepsLayer", "common": "CommonLayer"}
COMMON_LAYER = ROOT / "layers/common"
HEAVY_FUNCTIONS = ("agent",)
LIGHT_FUNCTIONS = ("connect", "disconnect", "message", "workflow", "api", "authorizer")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smart-support-bench"
ARM64 = "manylinux2014_aarch64"
MIB = 1024 * 1024


def host_platform() -> str:
    """The manylinux tag of this machine."""
    return f"manylinux2014_{platform.machine()}"


def layer_of(function: str) -> str:
    """The dependency layer a function runs with: "heavy" for the agent, "light" for the others."""
    return "heavy" if function in HEAVY_FUNCTIONS else "light"


def source_digest(source: Path) -> str:
    """A hash of every file under `source` but bytecode caches (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_common() -> Path:
    """The `python/` directory of the common layer as layers/common/Makefile builds it (cached)."""
    return build_layer("common", "any")


def build_layer(kind: str, platform_tag: str) -> Path:
    """The `python/` directory of a layer built for python3.13 on `platform_tag` (cached)."""
    source = COMMON_LAYER if kind == "common" else LAYERS[kind]
    makefile = COMMON_LAYER / "Makefile" if kind == "common" else DEPS_MAKEFILE
    digest = hashlib.sha256((source_digest(source) + makefile.read_text(encoding="utf-8")).encode()).hexdigest()
    target = CACHE / f"{kind}-{platform_tag}-{digest[:12]}" / "python"
    if (target.parent / ".complete").exists():
        return target
    if target.parent.exists():
        subprocess.run(["rm", "-rf", str(target.parent)], check=True)
    target.mkdir(parents=True)
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(source),
        "-f",
        str(makefile),
        f"build-{LAYER_IDS[kind]}",
        f"ARTIFACTS_DIR={target.parent}",
        f"PLATFORM={platform_tag}",
        f"PYTHON={sys.executable}",
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    (target.parent / ".complete").touch()
    return target


def tree_size(path: Path, skip_pycache: bool = False) -> int:
    """Bytes of every file under `path` (the layers ship their bytecode; a source tree's caches are left out)."""
    total = 0
    for root, dirs, files in os.walk(path):
        if skip_pycache:
            dirs[:] = [d for d in dirs if d != "__pycache__"]
        total += sum((Path(root) / f).stat().st_size for f in files)
    return total


def without_bytecode(layer: Path) -> Path:
    """A copy of a built layer's `python/` without its bytecode (what Lambda would compile at every cold start)."""
    copy = layer.parent / "python-source"
    if not (layer.parent / ".source-complete").exists():
        subprocess.run(["rm", "-rf", str(copy)], check=True)
        subprocess.run(["cp", "-R", str(layer), str(copy)], check=True)
        for cache in sorted(copy.rglob("__pycache__"), reverse=True):
            subprocess.run(["rm", "-rf", str(cache)], check=True)
        (layer.parent / ".source-complete").touch()
    return copy


def layer_sizes() -> dict[str, Any]:
    """Unzipped size of each layer (arm64) and of each function with its layers, against the limits."""
    layers = {kind: build_layer(kind, ARM64) for kind in LAYERS}
    layer_bytes = {kind: tree_size(path) for kind, path in layers.items()}
    common_bytes = tree_size(build_common())
    functions = {
        p.name: tree_size(p, skip_pycache=True)  # the python3.13 build method ships no bytecode
        for p in sorted((ROOT / "functions").iterdir())
        if (p / "app.py").exists()
    }
    totals = {name: size + common_bytes + layer_bytes[layer_of(name)] for name, size in functions.items()}
    largest = {
        kind: [
            {"name": name, "bytes": size}
            for size, name in sorted(((tree_size(p), p.name) for p in path.iterdir() if p.is_dir()), reverse=True)[:8]
        ]
        for kind, path in layers.items()
    }
    light_max = max(v for k, v in totals.items() if layer_of(k) == "light")
    return {
        "platform": ARM64,
        "light_bytes": layer_bytes["light"],
        "heavy_bytes": layer_bytes["heavy"],
        "light_mb": round(layer_bytes["light"] / MIB, 1),
        "heavy_mb": round(layer_bytes["heavy"] / MIB, 1),
        "common_bytes": common_bytes,
        "function_bytes": functions,
        "function_total_bytes": totals,
        "light_function_total_mb": round(light_max / MIB, 1),
        "light_limit_bytes": LIGHT_LIMIT,
        "total_bytes": max(totals.values()),
        "limit_bytes": LAMBDA_UNZIPPED_LIMIT,
        "headroom_bytes": LAMBDA_UNZIPPED_LIMIT - max(totals.values()),
        "largest_packages": largest,
        "dropped_from_heavy": [
            line.strip()
            for line in (LAYERS["heavy"] / "exclude.txt").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ],
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

    conditions = LocalResolver(template)

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and "Fn::If" in value:
            name, when_true, when_false = value["Fn::If"]
            return resolve(when_true if conditions.condition(name) else when_false)
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


_TIMER = (
    "import time; w, c = time.perf_counter(), time.process_time(); import {module}; "
    "print(time.perf_counter() - w, time.process_time() - c)"
)


def _time_import(module: str, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of `import module` in a fresh interpreter."""
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
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def cold_starts(runs: int = 5, source_runs: int = 3) -> dict[str, Any]:
    """Median import time of each handler module and of a bare `import boto3`, in fresh interpreters.

    The interpreters take turns (boto3, then each function, `runs` rounds after a warm-up round), so a burst of
    load on a shared machine hits every figure alike. CPU time is reported beside wall time: on a busy machine it
    moves less. Then `source_runs` rounds of the same imports from the layers without their bytecode.
    """
    deps = {kind: build_layer(kind, host_platform()) for kind in LAYERS}
    common = build_common()
    base_env = {
        "PYTHONDONTWRITEBYTECODE": "1",
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
    subjects: dict[str, tuple[str, Path, dict[str, str]]] = {
        "boto3": ("boto3", ROOT, {**base_env, "PYTHONPATH": str(deps["light"]), "LAMBDA_TASK_ROOT": str(ROOT)})
    }
    for name in functions:
        task_root = ROOT / "functions" / name
        env = {
            **base_env,
            **function_environment(name),
            "PYTHONPATH": os.pathsep.join([str(task_root), str(common), str(deps[layer_of(name)])]),
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": f"smart-support-{name}",
        }
        subjects[name] = ("app", task_root, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for round_ in range(runs + 1):
        for name, (module, cwd, env) in subjects.items():
            sample = _time_import(module, cwd, env)
            if round_:
                samples[name].append(sample)
    sources = {str(path): str(without_bytecode(path)) for path in [common, *deps.values()]}
    source_samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for _ in range(source_runs):
        for name, (module, cwd, env) in subjects.items():
            path = os.pathsep.join(sources.get(p, p) for p in env["PYTHONPATH"].split(os.pathsep))
            source_samples[name].append(_time_import(module, cwd, {**env, "PYTHONPATH": path}))

    def median(name: str, index: int, of: dict[str, list[tuple[float, float]]] = samples) -> float:
        return statistics.median(sample[index] for sample in of[name])

    baseline, baseline_cpu = median("boto3", 0), median("boto3", 1)
    out: dict[str, Any] = {
        "runs": runs,
        "python": platform.python_version(),
        "deps_platform": host_platform(),
        "boto3_s": baseline,
        "boto3_ms": round(baseline * 1000, 1),
        "boto3_cpu_ms": round(baseline_cpu * 1000, 1),
        "boto3_no_bytecode_ms": round(median("boto3", 0, source_samples) * 1000, 1),
        "functions": {},
    }
    for name in functions:
        seconds, cpu = median(name, 0), median(name, 1)
        out["functions"][name] = {
            "import_s": seconds,
            "import_ms": round(seconds * 1000, 1),
            "ratio_to_boto3": round(seconds / baseline, 2),
            "import_cpu_ms": round(cpu * 1000, 1),
            "cpu_ratio_to_boto3": round(cpu / baseline_cpu, 2),
            "no_bytecode_ms": round(median(name, 0, source_samples) * 1000, 1),
            "light": name in LIGHT_FUNCTIONS,
            "layer": layer_of(name),
        }
    return out


__all__ = ["LIGHT_FUNCTIONS", "build_common", "build_layer", "cold_starts", "layer_of", "layer_sizes"]

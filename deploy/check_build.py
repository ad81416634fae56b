"""Check what `sam build` made before it is deployed: each layer ships bytecode Lambda's python3.13 can use, and the
light layer's botocore still has the model of every service the light functions call.

`python -m deploy.check_build [.aws-sam/build]` (what `make build` runs after `sam build`); exits 1 with the
reasons. Lambda's /opt is read-only, so a layer whose bytecode is missing, from another Python or date-stamped
(a zip keeps dates to 2 seconds) is compiled again at every cold start: ~3x the import time, silently.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("CommonLayer", "LightDepsLayer", "AgentDepsLayer")
SERVICES = ROOT / "layers/deps-light/botocore-services.txt"
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def kept_services() -> list[str]:
    """The botocore service models the light layer keeps (layers/deps-light/botocore-services.txt)."""
    lines = SERVICES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def bytecode_problems(layer: Path) -> list[str]:
    """Every module of `layer` without usable python3.13 bytecode (missing, wrong magic, date-stamped)."""
    problems = []
    tag = sys.implementation.cache_tag  # cpython-313 when run by python3.13
    for source in sorted(layer.rglob("*.py")):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not compiled.exists():
            problems.append(f"{source.relative_to(layer)}: no {compiled.name}")
            continue
        header = compiled.read_bytes()[:8]
        if header[:4] != importlib.util.MAGIC_NUMBER:
            problems.append(f"{compiled.relative_to(layer)}: compiled by another Python")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            problems.append(f"{compiled.relative_to(layer)}: not unchecked-hash bytecode")
    return problems


def client_problems(layer: Path, services: list[str]) -> list[str]:
    """Build a client of each service from the layer's own botocore (pure Python: any platform can import it)."""
    probe = (
        "import sys, botocore.session\n"
        "session = botocore.session.get_session()\n"
        "for name in sys.argv[1:]:\n"
        "    session.create_client(name, region_name='us-east-1', aws_access_key_id='k', aws_secret_access_key='s')\n"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(layer), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and probe; service names from our own file
        [sys.executable, "-S", "-c", probe, *services], env=env, capture_output=True, text=True, check=False
    )
    return [] if result.returncode == 0 else [f"botocore in {layer}: {result.stderr.strip().splitlines()[-1]}"]


def check(build_dir: Path) -> list[str]:
    """Everything wrong with the build in `build_dir` (empty when it can be deployed)."""
    if sys.version_info[:2] != (3, 13):
        return [f"run this with python3.13 (Lambda's runtime), not {sys.version.split()[0]}"]
    problems = []
    for name in LAYERS:
        layer = build_dir / name / "python"
        if not layer.is_dir():
            problems.append(f"{layer}: not built")
            continue
        missing = bytecode_problems(layer)
        if missing:
            problems.append(f"{name}: {len(missing)} modules without usable bytecode, e.g. {missing[:3]}")
    light = build_dir / "LightDepsLayer" / "python"
    if light.is_dir():
        problems += client_problems(light, kept_services())
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the problems of the build; 1 when there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default=str(ROOT / ".aws-sam/build"))
    problems = check(Path(parser.parse_args(argv).build_dir))
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("build ok: every layer ships python3.13 bytecode; botocore has " + ", ".join(kept_services()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

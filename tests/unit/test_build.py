"""The build ships bytecode Lambda can use and the botocore models the light functions need (deploy/check_build)."""

from __future__ import annotations

import py_compile
import re
import shutil
from pathlib import Path

import botocore
import dateutil
import jmespath
import six
import urllib3

from deploy.check_build import bytecode_problems, check, client_problems, kept_services
from local.template import ROOT, load_template

PACKAGE = ROOT / "layers/common/python/smart_support"


def layer_with(tmp_path: Path, mode: py_compile.PycInvalidationMode | None) -> Path:
    layer = tmp_path / "python"
    (layer / "pkg").mkdir(parents=True)
    for name in ("__init__.py", "mod.py"):
        source = layer / "pkg" / name
        source.write_text("VALUE = 1\n", encoding="utf-8")
        if mode is not None:
            py_compile.compile(str(source), invalidation_mode=mode, doraise=True)
    return layer


def test_unchecked_hash_bytecode_passes(tmp_path: Path) -> None:
    assert bytecode_problems(layer_with(tmp_path, py_compile.PycInvalidationMode.UNCHECKED_HASH)) == []


def test_missing_or_date_stamped_bytecode_is_reported(tmp_path: Path) -> None:
    missing = bytecode_problems(layer_with(tmp_path / "a", None))
    assert len(missing) == 2 and all("no " in p for p in missing)
    dated = bytecode_problems(layer_with(tmp_path / "b", py_compile.PycInvalidationMode.TIMESTAMP))
    assert len(dated) == 2 and all("not unchecked-hash" in p for p in dated)


def test_a_build_without_its_layers_is_refused(tmp_path: Path) -> None:
    problems = check(tmp_path)
    assert len(problems) == 3 and all("not built" in p for p in problems)


def test_a_botocore_without_a_service_model_is_refused(tmp_path: Path) -> None:
    layer = tmp_path / "python"
    for package in (botocore, dateutil, jmespath, urllib3):  # botocore and what it imports, as the layer has them
        source = Path(str(package.__file__)).parent
        shutil.copytree(source, layer / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(six.__file__, layer)
    assert client_problems(layer, ["dynamodb"]) == []
    shutil.rmtree(layer / "botocore/data/dynamodb")
    (problem,) = client_problems(layer, ["dynamodb"])
    assert "UnknownServiceError" in problem


def test_the_light_layer_keeps_the_model_of_every_service_the_domain_package_calls() -> None:
    called = set()
    for path in PACKAGE.rglob("*.py"):
        called |= set(re.findall(r'aws\.client\(\s*"([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    if "parameters" in (PACKAGE / "auth/secrets.py").read_text(encoding="utf-8"):
        called.add("ssm")  # Powertools Parameters reads the shared-secret mode's secret from SSM
    assert {"dynamodb", "stepfunctions", "apigatewaymanagementapi"} <= called
    assert called == set(kept_services())


def test_the_layers_are_built_by_their_makefiles() -> None:
    resources = load_template()["Resources"]
    for logical_id, folder in [
        ("CommonLayer", "layers/common"),
        ("LightDepsLayer", "layers"),  # ContextPath: one Makefile for both dependency layers
        ("AgentDepsLayer", "layers"),
    ]:
        metadata = resources[logical_id]["Metadata"]
        assert metadata["BuildMethod"] == "makefile"
        assert metadata.get("ContextPath", resources[logical_id]["Properties"]["ContentUri"]).rstrip("/") == folder
        makefile = (ROOT / folder / "Makefile").read_text(encoding="utf-8")
        assert f"build-{logical_id}:" in makefile
        assert "compileall" in makefile and "unchecked-hash" in makefile

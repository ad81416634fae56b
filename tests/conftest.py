"""Shared fixtures: AWS credentials that can never reach a real account, moto tables from template.yaml."""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

import boto3
import pytest

from local.template import ROOT, create_tables

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)


class NotInTheAgentLayer(importlib.abc.MetaPathFinder):
    """Imports of what layers/deps-agent/exclude.txt drops fail here as they would on Lambda (the dev venv has them)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Refuse the dropped packages; leave everything else to the other finders."""
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in the agent's layer)", name=fullname)
        return None


DROPPED = {
    line.strip()
    for line in (ROOT / "layers/deps-agent/exclude.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
}
assert not DROPPED & set(sys.modules), "imported before the test suite could hide it"
sys.meta_path.insert(0, NotInTheAgentLayer(DROPPED))


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every AWS API, Step Functions executing the real ASL, patched as the local stack patches it."""
    from moto import mock_aws

    from local import moto_patches

    moto_patches.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def dynamodb(aws: None):
    """A moto DynamoDB client with every table of template.yaml created from its own definition."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_tables(client)
    return client

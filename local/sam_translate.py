"""`python -m local.sam_translate template.yaml`: print the template as SAM translates it (CloudFormation JSON).

Runs wherever aws-sam-translator is installed (the tools venv: SAM pins its own pydantic range). Code locations are
replaced by placeholder S3 URIs first: the translator wants packaged code, and only the IAM roles matter here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PACKAGED = ("CodeUri", "ContentUri", "DefinitionUri")


class _NoManagedPolicies:
    """The template names managed policies by ARN only, so the translator never needs to look one up."""

    def load(self) -> dict[str, str]:
        return {}


def translate(text: str) -> dict[str, Any]:
    """The CloudFormation template SAM's transform makes of `text` (a SAM template)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator's pseudo parameters need a region
    template = yaml_parse(text)
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        for key in PACKAGED:
            if isinstance(props.get(key), str):
                props[key] = f"s3://local-stack/{name}"
    return dict(transform(template, {}, _NoManagedPolicies()))


def main() -> None:
    """Translate the file named on the command line to stdout."""
    json.dump(translate(Path(sys.argv[1]).read_text(encoding="utf-8")), sys.stdout)


if __name__ == "__main__":
    main()

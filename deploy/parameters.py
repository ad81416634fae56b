"""`make deploy`'s template parameters: samconfig.toml's `parameter_overrides` for the environment, with the
deployer's changes on top, as one `--parameter-overrides` value (sam replaces the file's list with a command line's,
it does not merge them, so the merge happens here).

    python -m deploy.parameters --config-env default BedrockModelId=eu.anthropic.claude-haiku-4-5-20251001-v1:0

`make deploy` passes the variables given on its command line (MODEL_ID=…, IDENTITY_MODE=…, ALARM_EMAIL=…: see
MAKE_VARIABLES) and PARAMS="Name=Value …" for any other parameter; a name the template does not declare stops the
deploy before sam runs.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tomllib
from pathlib import Path

from deploy.site import SAMCONFIG, DeployError
from local.template import load_template

# make variable -> the template parameter it sets
MAKE_VARIABLES = {
    "MODEL_PROVIDER": "ModelProvider",
    "MODEL_ID": "BedrockModelId",
    "IDENTITY_MODE": "IdentityMode",
    "CREATE_USER_POOL": "CreateUserPool",
    "OIDC_ISSUER": "OidcIssuer",
    "OIDC_AUDIENCE": "OidcAudience",
    "ALLOW_ANONYMOUS": "AllowAnonymous",
    "ALARM_EMAIL": "AlarmEmail",
    "LOG_RETENTION_DAYS": "LogRetentionDays",
    "CREATE_APIGW_ACCOUNT_ROLE": "CreateApiGatewayAccountRole",
    "ORDER_BACKEND": "OrderBackend",
    "ORDER_API_URL": "OrderApiUrl",
    "ORDER_API_TOKEN_PARAMETER": "OrderApiTokenParameter",
}


def samconfig_overrides(config_env: str, path: Path = SAMCONFIG) -> dict[str, str]:
    """The parameter_overrides of a samconfig.toml environment, by name."""
    with path.open("rb") as fh:
        env = tomllib.load(fh).get(config_env) or {}
    return parse_overrides(str(env.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")))


def parse_overrides(text: str) -> dict[str, str]:
    """`Name=Value Name2="Value two"` (sam's shorthand) as a dict."""
    pairs = {}
    for word in shlex.split(text):
        name, sep, value = word.partition("=")
        if not sep:
            raise DeployError(f"parameter override {word!r} is not Name=Value")
        pairs[name] = value
    return pairs


def merged_overrides(config_env: str, changes: dict[str, str], path: Path = SAMCONFIG) -> str:
    """One --parameter-overrides value: the environment's overrides, then `changes` (which win)."""
    declared = set(load_template()["Parameters"])
    unknown = sorted(set(changes) - declared)
    if unknown:
        raise DeployError(
            f"template.yaml declares no parameter {', '.join(unknown)} (it has {', '.join(sorted(declared))})"
        )
    merged = {**samconfig_overrides(config_env, path), **changes}
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in merged.items())


def changes_from(words: list[str]) -> dict[str, str]:
    """The deployer's changes from `NAME=value` words: make's variables of MAKE_VARIABLES (make's other variables,
    all in capitals, are ignored) and template parameters by their own names. Never from the environment: a shell's
    ALLOW_ANONYMOUS=true for the local stack must not deploy."""
    changes: dict[str, str] = {}
    for name, value in parse_overrides(" ".join(shlex.quote(word) for word in words)).items():
        if name in MAKE_VARIABLES:
            changes[MAKE_VARIABLES[name]] = value
        elif not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            changes[name] = value
    return changes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.parameters", description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument("overrides", nargs="*", help="Name=Value (a template parameter) or VARIABLE=value (make's)")
    args = parser.parse_args(argv)
    try:
        print(merged_overrides(args.config_env, changes_from(args.overrides)))
    except DeployError as exc:
        sys.exit(f"deploy: {exc}")


if __name__ == "__main__":
    main()

"""Secrets (the token signing secret, a model endpoint's API key): from SSM in AWS, the environment locally."""

from __future__ import annotations


def secret(local_value: str | None, parameter_name: str) -> str:
    """`local_value` when given, else the SSM SecureString `parameter_name` (cached 5 min by Powertools)."""
    if local_value:
        return local_value
    from aws_lambda_powertools.utilities import parameters  # only where no local value is configured

    return str(parameters.get_parameter(parameter_name, decrypt=True, max_age=300))


def auth_secret(local_secret: str | None, parameter_name: str) -> str:
    """The signing secret: AUTH_SECRET locally, else the SSM SecureString (cached 5 min by Powertools)."""
    return secret(local_secret, parameter_name)

"""The shared-secret mode's signing secret: from SSM Parameter Store in AWS, from the environment locally."""

from __future__ import annotations


def auth_secret(local_secret: str | None, parameter_name: str) -> str:
    """The signing secret: AUTH_SECRET locally, else the SSM SecureString (cached 5 min by Powertools)."""
    if local_secret:
        return local_secret
    from aws_lambda_powertools.utilities import parameters  # only where no local secret is configured

    return str(parameters.get_parameter(parameter_name, decrypt=True, max_age=300))

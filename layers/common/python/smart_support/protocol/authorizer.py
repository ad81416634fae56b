"""API Gateway's authorizer events (the fields the authorizer reads) and the two responses it gives."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from smart_support.protocol.gateway import GatewayModel


class HttpAuthorizerEvent(GatewayModel):
    """The HTTP API's Lambda authorizer event (payload format 2.0): the token is the Bearer header."""

    version: Literal["2.0"]
    type: Literal["REQUEST"]
    route_arn: str = Field(alias="routeArn")
    route_key: str = Field(alias="routeKey")
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def token(self) -> str | None:
        """The bearer token (a bare Authorization value is taken as the token), None without one."""
        value = {k.lower(): v for k, v in self.headers.items()}.get("authorization", "")
        return value[7:].strip() if value.lower().startswith("bearer ") else (value or None)


class WebSocketAuthorizerEvent(GatewayModel):
    """The $connect REQUEST authorizer event: the token is ?token=."""

    type: Literal["REQUEST"]
    method_arn: str = Field(alias="methodArn")
    query_string_parameters: dict[str, str] | None = Field(None, alias="queryStringParameters")

    @property
    def token(self) -> str | None:
        """The ?token= query parameter, None without one."""
        return (self.query_string_parameters or {}).get("token")


def http_authorizer_response(context: dict[str, str]) -> dict[str, object]:
    """The HTTP API's simple response: through, with the principal (or the refusal) as context."""
    return {"isAuthorized": True, "context": context}


def websocket_allow_response(method_arn: str, principal_id: str, context: dict[str, str]) -> dict[str, object]:
    """The $connect authorizer's IAM policy: every route of the stage the connection was made to."""
    arn, _, path = method_arn.partition("/")  # arn:aws:execute-api:region:account:api-id / stage / route
    stage = path.split("/", 1)[0]
    return _policy(principal_id, "Allow", f"{arn}/{stage}/*", context)


def websocket_deny_response(method_arn: str, context: dict[str, str]) -> dict[str, object]:
    """The $connect authorizer's refusal: an explicit Deny of the handshake (API Gateway answers 403). A refusal is
    an answer, not a failure: raising `Unauthorized` (401) would count every refused token as a Lambda error."""
    return _policy("refused", "Deny", method_arn, context)


def _policy(principal_id: str, effect: str, resource: str, context: dict[str, str]) -> dict[str, object]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}],
        },
        "context": context,
    }

"""API Gateway event models: the fields of the WebSocket and authorizer events that the handlers read.

Powertools' Parser models cover these events too, but importing any of them loads every event model it ships
(SQS, S3, Kinesis, ...: ~40 ms of a light function's cold start); these few models validate what is used.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GatewayModel(BaseModel):
    """Built on first validation: each function validates one or two of these events."""

    model_config = ConfigDict(defer_build=True)


class WebSocketRequestContext(GatewayModel):
    """The requestContext API Gateway sends on every WebSocket route."""

    route_key: str = Field(alias="routeKey")
    event_type: Literal["CONNECT", "MESSAGE", "DISCONNECT"] = Field(alias="eventType")
    connection_id: str = Field(alias="connectionId")
    request_id: str = Field(alias="requestId")
    stage: str
    api_id: str = Field(alias="apiId")
    domain_name: str = Field(alias="domainName")
    authorizer: dict[str, Any] | None = None  # the authorizer's context from $connect ($disconnect may lack it)


class MessageRequestContext(WebSocketRequestContext):
    """A frame's context: a message route, with its message id."""

    event_type: Literal["MESSAGE"] = Field(alias="eventType")
    message_id: str = Field(alias="messageId")


class ConnectRequestContext(WebSocketRequestContext):
    """$connect's context."""

    event_type: Literal["CONNECT"] = Field(alias="eventType")


class DisconnectRequestContext(WebSocketRequestContext):
    """$disconnect's context."""

    event_type: Literal["DISCONNECT"] = Field(alias="eventType")


class WebSocketMessageEvent(GatewayModel):
    """A frame on a message route."""

    request_context: MessageRequestContext = Field(alias="requestContext")
    body: str | None = None
    is_base64_encoded: bool = Field(False, alias="isBase64Encoded")


class WebSocketConnectEvent(GatewayModel):
    """$connect."""

    request_context: ConnectRequestContext = Field(alias="requestContext")


class WebSocketDisconnectEvent(GatewayModel):
    """$disconnect."""

    request_context: DisconnectRequestContext = Field(alias="requestContext")


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


def http_authorizer_response(context: dict[str, str]) -> dict[str, Any]:
    """The HTTP API's simple response: through, with the principal (or the refusal) as context."""
    return {"isAuthorized": True, "context": context}


def websocket_allow_response(method_arn: str, principal_id: str, context: dict[str, str]) -> dict[str, Any]:
    """The $connect authorizer's IAM policy: every route of the stage the connection was made to."""
    arn, _, path = method_arn.partition("/")  # arn:aws:execute-api:region:account:api-id / stage / route
    stage = path.split("/", 1)[0]
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{arn}/{stage}/*"]}],
        },
        "context": context,
    }

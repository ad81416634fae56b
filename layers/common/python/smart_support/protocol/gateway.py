"""API Gateway event models: Powertools Parser models, plus the authorizer context and authorizer events."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models.apigw_websocket import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketConnectEventRequestContext,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    APIGatewayWebSocketMessageEventRequestContext,
)
from aws_lambda_powertools.utilities.parser.models.apigwv2 import ApiGatewayAuthorizerRequestV2
from pydantic import BaseModel, Field


class MessageRequestContext(APIGatewayWebSocketMessageEventRequestContext):
    """Message route context with the authorizer context from $connect."""

    authorizer: dict[str, Any] | None = None


class ConnectRequestContext(APIGatewayWebSocketConnectEventRequestContext):
    """$connect context with the authorizer context."""

    authorizer: dict[str, Any] | None = None


class WebSocketMessageEvent(APIGatewayWebSocketMessageEventModel):
    """A frame on a message route."""

    request_context: MessageRequestContext = Field(alias="requestContext")


class WebSocketConnectEvent(APIGatewayWebSocketConnectEventModel):
    """$connect."""

    request_context: ConnectRequestContext = Field(alias="requestContext")


# $disconnect carries no authorizer context: Powertools' own model serves as is.
WebSocketDisconnectEvent = APIGatewayWebSocketDisconnectEventModel


class HttpAuthorizerEvent(ApiGatewayAuthorizerRequestV2):
    """The HTTP API's Lambda authorizer event (payload format 2.0): the token is the Bearer header."""

    @property
    def token(self) -> str | None:
        """The bearer token (a bare Authorization value is taken as the token), None without one."""
        value = {k.lower(): v for k, v in self.headers.items()}.get("authorization", "")
        return value[7:].strip() if value.lower().startswith("bearer ") else (value or None)


class WebSocketAuthorizerEvent(BaseModel):
    """The $connect REQUEST authorizer event (Powertools has no model for it): the token is ?token=."""

    type: Literal["REQUEST"]
    method_arn: str = Field(alias="methodArn")
    query_string_parameters: dict[str, str] | None = Field(None, alias="queryStringParameters")

    @property
    def token(self) -> str | None:
        """The ?token= query parameter, None without one."""
        return (self.query_string_parameters or {}).get("token")

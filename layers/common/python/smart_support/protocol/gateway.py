"""API Gateway WebSocket event models (Powertools Parser models plus the authorizer context)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models.apigw_websocket import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketConnectEventRequestContext,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    APIGatewayWebSocketMessageEventRequestContext,
)
from pydantic import Field


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

"""API Gateway WebSocket event models: the fields the handlers read (the authorizer's events: protocol/authorizer.py).

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

"""The domain's exceptions: one per error code of the protocol (DESIGN.md), with its HTTP status."""

from __future__ import annotations

from typing import ClassVar


class SupportError(Exception):
    """Base of every error a client may be told about."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Something went wrong on our side; please try again."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class MessageTooLarge(SupportError):
    code = "message_too_large"
    http_status = 413
    default_message = "The frame is too large (limit 32 KiB)."


class InvalidJson(SupportError):
    code = "invalid_json"
    http_status = 400
    default_message = "Invalid JSON: a frame must be a JSON object."


class UnknownType(SupportError):
    code = "unknown_type"
    http_status = 400


class ValidationFailed(SupportError):
    code = "validation_error"
    http_status = 422


class SessionExpired(SupportError):
    code = "session_expired"
    http_status = 410
    default_message = "This conversation has expired; please start a new one."


class ThreadBusy(SupportError):
    code = "thread_busy"
    http_status = 409
    default_message = "This conversation is still working on your last message; please wait for it to finish."


class RateLimited(SupportError):
    code = "rate_limited"
    http_status = 429
    default_message = "You are sending too fast; please slow down and try again in a moment."


class ThreadNotHeld(SupportError):
    """An operator acted on a conversation it does not hold (takeover first)."""

    code = "thread_not_held"
    http_status = 409
    default_message = "You do not hold this conversation: take it over first."


class TicketConflict(SupportError):
    """The ticket is not in a state that allows the change (e.g. already closed)."""

    code = "ticket_conflict"
    http_status = 409
    default_message = "The ticket changed meanwhile; reload it and try again."


class NoPendingInterrupt(SupportError):
    code = "no_pending_interrupt"
    http_status = 409
    default_message = "There is nothing waiting for your approval in this conversation."


class ApprovalExpired(SupportError):
    code = "approval_expired"
    http_status = 410
    default_message = "This approval has expired."


class ApprovalAlreadyDecided(ApprovalExpired):
    http_status = 409
    default_message = "This approval was already decided."


class NotFound(SupportError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class TokenExpired(SupportError):
    code = "token_expired"
    http_status = 401
    default_message = "Your session's token has expired: reconnect with a new one."


class Unauthorized(SupportError):
    code = "unauthorized"
    http_status = 401
    default_message = "A valid token is required."


class Forbidden(SupportError):
    code = "forbidden"
    http_status = 403
    default_message = "You are not allowed to do that."


class InternalError(SupportError):
    """Anything unexpected; the message never carries details."""


class ConflictError(Exception):
    """A conditional write lost a race (data layer); callers decide what it means."""

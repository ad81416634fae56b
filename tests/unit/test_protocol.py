"""Frame validation: every error code of the protocol, in the order DESIGN.md gives (size, JSON, type, fields)."""

import json

import pytest

from smart_support.protocol.errors import InvalidJson, MessageTooLarge, UnknownType, ValidationFailed
from smart_support.protocol.events import error_event
from smart_support.protocol.frames import (
    InterruptResponseFrame,
    MessageFrame,
    PingFrame,
    ResumeFrame,
    parse_frame,
)
from smart_support.protocol.types import MAX_FRAME_BYTES


def frame(**fields):
    return json.dumps(fields)


def test_valid_frames_parse_to_their_models():
    # Given one frame of every type
    # When parsed
    # Then each becomes its model with its fields
    message = parse_frame(frame(type="message", thread_id="t-1", content="hi", message_id="m-1"))
    assert isinstance(message, MessageFrame) and message.content == "hi" and message.message_id == "m-1"
    decision = parse_frame(
        frame(type="interrupt_response", thread_id="t-1", interrupt_id="i-1", approved=False, comment="no")
    )
    assert isinstance(decision, InterruptResponseFrame) and decision.approved is False
    assert isinstance(parse_frame(frame(type="ping")), PingFrame)
    assert isinstance(parse_frame(frame(type="resume", thread_id="a.b:c_d-e")), ResumeFrame)


def test_size_is_checked_before_parsing():
    # Given a frame over 32 KiB that is not even JSON
    body = "x" * (MAX_FRAME_BYTES + 1)
    # When / Then: too large, not invalid JSON
    with pytest.raises(MessageTooLarge) as exc:
        parse_frame(body)
    assert "too large" in exc.value.message
    assert exc.value.code == "message_too_large"


def test_size_counts_utf8_bytes_not_characters():
    # Given content under 32 Ki characters but over 32 KiB in UTF-8
    body = frame(type="message", thread_id="t", content="é" * 17000)
    with pytest.raises(MessageTooLarge):
        parse_frame(body)


@pytest.mark.parametrize("body", ["not json", "", "{", "[1, 2]", '"text"', "42", "null", b"\xff\xfe"])
def test_non_json_or_non_object_is_invalid_json(body):
    with pytest.raises(InvalidJson) as exc:
        parse_frame(body)
    assert "Invalid JSON" in exc.value.message
    assert exc.value.code == "invalid_json"


@pytest.mark.parametrize(("data", "shown"), [({"type": "dance"}, "dance"), ({}, "missing"), ({"type": 7}, "7")])
def test_unknown_or_missing_type_names_the_type(data, shown):
    with pytest.raises(UnknownType) as exc:
        parse_frame(json.dumps(data))
    assert shown in exc.value.message
    assert exc.value.code == "unknown_type"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "message", "content": "hi"}, "thread_id"),
        ({"type": "message", "thread_id": "t"}, "content"),
        ({"type": "message", "thread_id": 5, "content": "hi"}, "thread_id"),
        ({"type": "message", "thread_id": "has space", "content": "hi"}, "thread_id"),
        ({"type": "message", "thread_id": "x" * 129, "content": "hi"}, "thread_id"),
        ({"type": "message", "thread_id": "t", "content": "   \n"}, "content"),
        ({"type": "message", "thread_id": "t", "content": ["hi"]}, "content"),
        ({"type": "message", "thread_id": "t", "content": "x" * 8001}, "content"),
        ({"type": "message", "thread_id": "t", "content": "hi", "message_id": 3}, "message_id"),
        ({"type": "interrupt_response", "thread_id": "t", "interrupt_id": "i"}, "approved"),
        ({"type": "interrupt_response", "thread_id": "t", "interrupt_id": "i", "approved": "yes"}, "approved"),
        ({"type": "interrupt_response", "thread_id": "t", "interrupt_id": "i", "approved": 1}, "approved"),
        ({"type": "interrupt_response", "interrupt_id": "i", "approved": True}, "thread_id"),
        ({"type": "interrupt_response", "thread_id": "t", "approved": True}, "interrupt_id"),
        ({"type": "interrupt_response", "thread_id": "t", "interrupt_id": 7, "approved": True}, "interrupt_id"),
        ({"type": "interrupt_response", "thread_id": "t", "interrupt_id": "i" * 129, "approved": True}, "interrupt_id"),
        ({"type": "interrupt_response", "thread_id": "t", "interrupt_id": "a b", "approved": True}, "interrupt_id"),
        ({"type": "resume"}, "thread_id"),
    ],
)
def test_bad_fields_are_validation_errors_naming_the_field(data, field):
    with pytest.raises(ValidationFailed) as exc:
        parse_frame(json.dumps(data))
    assert field in exc.value.message
    assert exc.value.code == "validation_error"


def test_content_at_the_limit_is_accepted():
    parsed = parse_frame(frame(type="message", thread_id="t", content="x" * 8000))
    assert isinstance(parsed, MessageFrame) and len(parsed.content) == 8000


def test_error_event_shape():
    payload = error_event(UnknownType("Unknown frame type"), "t-1", request_id="r-1")
    assert payload == {
        "type": "error",
        "thread_id": "t-1",
        "code": "unknown_type",
        "message": "Unknown frame type",
        "request_id": "r-1",
    }


def test_a_frame_nested_thousands_deep_is_invalid_json_not_a_crash():
    deep = '{"type": "message", "thread_id": "t", "content": ' + "[" * 12_000 + "]" * 12_000 + "}"
    with pytest.raises(InvalidJson):
        parse_frame(deep)

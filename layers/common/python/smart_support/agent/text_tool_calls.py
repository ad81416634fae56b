"""A tool call a model wrote as text becomes a call, never an answer (OpenAI-compatible endpoints).

Small models served by llama.cpp, vLLM or Ollama sometimes answer with the call itself as text —
`{"name": "track_shipment", "arguments": {"order_id": "1042"}}`, bare or in a ```json fence — when the server's
template parser does not recognise it (make eval with Qwen2.5-Coder 1.5B: docs/eval.md). Streamed as it is, the
customer reads JSON and nothing is looked up. Here a streamed answer whose text begins like a JSON object or fence is
held back until it ends; if it is exactly one call of a tool bound to the request, it is replayed as that tool call
(through the same graph, the same approval rules: text never grants a tool that is not bound), otherwise as the text
it was. An answer that begins with anything else streams as it comes, with no delay.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from functools import reduce
from operator import add
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
MAX_HELD_CHARS = 4_000  # a call's JSON is short; a longer text is an answer and is released


def could_be_call(text: str) -> bool:
    """Whether a streamed answer that begins with `text` may still turn out to be a call written as text."""
    start = text.lstrip()
    if len(start) > MAX_HELD_CHARS:
        return False
    if "```json".startswith(start):
        return True
    if start.startswith("```"):
        start = start[3:].removeprefix("json").lstrip()
    return not start or start.startswith("{")


def written_call(text: str, tool_names: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) when `text` is exactly one call of a bound tool, as JSON (bare or fenced); else None."""
    body = text.strip()
    if fenced := _FENCE.match(body):
        body = fenced.group(1)
    try:
        call = json.loads(body)
    except ValueError:
        return None
    if not isinstance(call, dict):
        return None
    call = call.get("function", call) if isinstance(call.get("function"), dict) else call
    name = call.get("name")
    args = call.get("arguments", call.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    if name not in tool_names or not isinstance(args, dict):
        return None
    return str(name), args


def as_call(held: list[ChatGenerationChunk], name: str, args: dict[str, Any]) -> ChatGenerationChunk:
    """One chunk carrying the call (and the held chunks' usage and metadata), with no text."""
    merged = reduce(add, held)
    message = merged.message
    call = tool_call_chunk(name=name, args=json.dumps(args), id=f"call_{uuid.uuid4().hex}", index=0)
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            id=message.id,
            tool_call_chunks=[call],
            usage_metadata=getattr(message, "usage_metadata", None),
            response_metadata={**message.response_metadata, "finish_reason": "tool_calls"},
        ),
        generation_info=merged.generation_info,
    )


def recovering(chunks: Iterator[ChatGenerationChunk], tool_names: Sequence[str]) -> Iterator[ChatGenerationChunk]:
    """`chunks`, with an answer that is a call written as text replaced by that call."""
    held: list[ChatGenerationChunk] = []
    text = ""
    holding = bool(tool_names)
    for chunk in chunks:
        if not holding:
            yield chunk
            continue
        content = chunk.message.content
        if getattr(chunk.message, "tool_call_chunks", None) or not isinstance(content, str):
            holding = False  # a real tool call (or content blocks): nothing to recover
        else:
            text += content
            holding = could_be_call(text)
        held.append(chunk)
        if not holding:
            yield from held
            held = []
    if held:
        call = written_call(text, tool_names)
        if call is None:
            yield from held
        else:
            yield as_call(held, *call)


class TextToolCallsChatOpenAI(ChatOpenAI):
    """ChatOpenAI whose streamed answers that are tool calls written as text become tool calls."""

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        names = [tool["function"]["name"] for tool in kwargs.get("tools") or [] if "function" in tool]
        chunks = super()._stream(messages, stop, None, **kwargs)
        for chunk in recovering(chunks, names):
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

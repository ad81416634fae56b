"""A fake OpenAI-compatible endpoint on 127.0.0.1 that streams scripted answers in the real wire format.

`POST /v1/chat/completions` with `stream: true` is answered as `text/event-stream`: one `data: {chat.completion.chunk}`
line per chunk, each written and flushed on its own, ending with `data: [DONE]`, shaped as the OpenAI API (and
llama.cpp's server, vLLM, Ollama) send them: the first delta carries the role, a tool call arrives as
`delta.tool_calls` (index, id, type and name first, then the arguments in pieces), the choice ends with its
`finish_reason`, and with `stream_options.include_usage` every chunk has `"usage": null` but a last one with no
choices and the token counts. The requests (JSON body and headers) are kept for the tests to read.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

MODEL = "local"
Chunk = dict[str, Any]  # one choice's delta and finish reason, or the usage of the whole answer


def text_answer(*pieces: str, usage: tuple[int, int] = (412, 31)) -> list[Chunk]:
    """A streamed text answer: the role, the content in `pieces`, `stop`, then the usage (prompt, completion)."""
    return [
        {"delta": {"role": "assistant", "content": ""}},
        *[{"delta": {"content": piece}} for piece in pieces],
        {"delta": {}, "finish_reason": "stop"},
        {"usage": usage},
    ]


def tool_call(name: str, arguments: dict[str, Any], call_id: str, usage: tuple[int, int] = (388, 22)) -> list[Chunk]:
    """A streamed tool call: id, type and name first, the JSON arguments split across three chunks, `tool_calls`."""
    raw = json.dumps(arguments)
    cuts = [0, len(raw) // 3, 2 * len(raw) // 3, len(raw)]
    head = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    return [
        {"delta": {"role": "assistant", "content": None, "tool_calls": [head]}},
        *[
            {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": raw[start:end]}}]}}
            for start, end in pairwise(cuts)
        ],
        {"delta": {}, "finish_reason": "tool_calls"},
        {"usage": usage},
    ]


@dataclass
class Received:
    """One request as the endpoint received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    """Serves `script` (one list of chunks per request, in order) on 127.0.0.1; `after_content` runs after each content
    chunk has been flushed (a test can wait there until the client has seen it)."""

    script: list[list[Chunk]]
    after_content: Callable[[str], None] | None = None
    requests: list[Received] = field(default_factory=list)
    completed: int = 0  # responses streamed to their end ([DONE])

    def __post_init__(self) -> None:
        self.script = list(self.script)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                fake.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/v1/chat/completions":
                    return self.error(404, f"Unknown request URL: POST {self.path}")
                if body.get("stream") is not True:
                    return self.error(400, "this fake endpoint only streams")
                if not fake.script:
                    return self.error(500, "the fake endpoint's script is used up")
                self.stream(fake.script.pop(0), bool((body.get("stream_options") or {}).get("include_usage")))

            def error(self, status: int, message: str) -> None:
                payload = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def stream(self, chunks: list[Chunk], include_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the stream ends when the connection closes, after [DONE]
                for data, content in fake.events(chunks, include_usage):
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                    if content and fake.after_content is not None:
                        fake.after_content(content)
                fake.completed += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The endpoint's /v1 URL (what OPENAI_BASE_URL holds)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def events(self, chunks: list[Chunk], include_usage: bool) -> Iterator[tuple[str, str | None]]:
        """The `data:` payloads of one streamed completion, each with the content it carries."""
        completion_id = f"chatcmpl-{time.time_ns()}"
        envelope = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": MODEL,
            "system_fingerprint": "fp_fake",
        }
        for chunk in chunks:
            if "usage" in chunk:
                if include_usage:
                    prompt, completion = chunk["usage"]
                    usage = {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    }
                    yield json.dumps({**envelope, "choices": [], "usage": usage}), None
                continue
            choice = {
                "index": 0,
                "delta": chunk["delta"],
                "logprobs": None,
                "finish_reason": chunk.get("finish_reason"),
            }
            usage_field = {"usage": None} if include_usage else {}
            yield json.dumps({**envelope, "choices": [choice], **usage_field}), chunk["delta"].get("content")
        yield "[DONE]", None

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

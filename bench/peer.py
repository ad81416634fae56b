"""`make bench-peer` (`python -m bench --peer`): the local stack beside the LangGraph Agent Server, same graph.

The peer is served as its users run it locally: `langgraph dev` (langgraph-cli with the in-memory runtime, from
requirements-peer.txt in its own venv, .venv-peer), the agent's graph (bench/peer_graph.py) on the same offline
model at the same pace, `--n-jobs-per-worker 24`. The stack is `python -m local` (template.yaml, moto, the
functions). Both run as their own processes on this machine, so each one's CPU and memory are read from /proc.

Both get the same questions, interleaved in one run (the order flips from one question to the next, so a burst of
load on a shared machine hits both alike):
- sequential, a fresh thread per question, then one long thread: first token and whole turn, p50/p95;
- 24 conversations at once, 3 turns each (twice for each server, stack/peer/peer/stack): latency, turns that
  completed, server CPU seconds per turn, server memory;
- then the stack alone for 1,000 more turns (8 conversations at a time, 3 turns each on a new connection and
  thread, as `make dev` would see them): its memory at turn 100 and at turn 1,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from websockets.sync.client import ClientConnection, connect

from bench.turns import PLAIN_PROMPTS, percentile
from local.inprocess import free_port
from local.template import ROOT

PEER_VENV = ROOT / ".venv-peer"
CONCURRENT_CONVERSATIONS = 24
CONCURRENT_TURNS = 3
SOAK_TURNS = 1000
SOAK_WORKERS = 8
CUSTOMER = "demo-customer"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- process accounting


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                    todo.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of the process tree, MiB."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            continue
    return round(total / 1024 / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process tree so far (children that exited included), seconds."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        except OSError:
            continue
    return total / TICKS


# ---------------------------------------------------------------- servers


@dataclass
class Turn:
    """One measured turn."""

    first_token_s: float | None
    complete_s: float
    ok: bool


class Server(Protocol):
    """What the driver needs of either server."""

    name: str
    process: subprocess.Popen[bytes]

    def conversation(self) -> Conversation:
        """A client for one conversation (its own connection where the server has them)."""


class Conversation(Protocol):
    """Turns on one thread at a time."""

    def turn(self, thread_id: str, question: str) -> Turn:
        """Send `question` on `thread_id` and read the answer to its end."""

    def close(self) -> None:
        """Release the connection."""


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer:\n{log.read_text(errors='replace')[-3000:]}")


class StackServer:
    """`python -m local` on a free port, offline model."""

    name = "stack"

    def __init__(self, workdir: Path, token_delay_ms: int, first_token_ms: int) -> None:
        self.port = free_port()
        self.log = workdir / "stack.log"
        env = {
            **os.environ,
            "PORT": str(self.port),
            "OFFLINE_TOKEN_DELAY_MS": str(token_delay_ms),
            "OFFLINE_FIRST_TOKEN_MS": str(first_token_ms),
            "MODEL_PROVIDER": "offline",
            # every conversation is the demo customer (the peer has no rate limits; the graph's answers stay the
            # same): the per-principal limits are lifted so they measure serving, not throttling
            "RATE_LIMIT_TURNS_PER_MINUTE": "100000",
            "RATE_LIMIT_FRAMES_PER_SECOND": "100000",
            "PYTHONPATH": f"{ROOT / 'layers/common/python'}{os.pathsep}{ROOT}",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        _wait_http(f"http://127.0.0.1:{self.port}/api/v1/health", self.process, self.log)

    def conversation(self) -> StackConversation:
        """A WebSocket connection (anonymous: the demo customer)."""
        return StackConversation(connect(f"ws://127.0.0.1:{self.port}/ws", open_timeout=30, max_size=2**20))

    def stop(self) -> None:
        """Stop the process."""
        self.process.terminate()
        self.process.wait(15)


class StackConversation:
    """Turns over one WebSocket."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    def turn(self, thread_id: str, question: str) -> Turn:
        """message -> tokens -> message_complete."""
        started = time.perf_counter()
        self.conn.send(json.dumps({"type": "message", "thread_id": thread_id, "content": question}))
        first = None
        while True:
            event = json.loads(self.conn.recv(timeout=120))
            if event.get("thread_id") not in (None, thread_id):
                continue
            if event["type"] == "token" and first is None:
                first = time.perf_counter() - started
            if event["type"] in ("message_complete", "error"):
                return Turn(first, time.perf_counter() - started, event["type"] == "message_complete" and bool(first))

    def close(self) -> None:
        """Close the WebSocket."""
        self.conn.close()


class PeerServer:
    """`langgraph dev` (in-memory runtime) serving bench/peer_graph.py:graph from .venv-peer."""

    name = "peer"

    def __init__(
        self, workdir: Path, token_delay_ms: int, first_token_ms: int, jobs: int = CONCURRENT_CONVERSATIONS
    ) -> None:
        cli = PEER_VENV / "bin" / "langgraph"
        if not cli.exists():
            raise RuntimeError(f"{cli} is missing: `make bench-peer` installs requirements-peer.txt there")
        self.port = free_port()
        self.log = workdir / "peer.log"
        config = workdir / "langgraph.json"
        config.write_text(json.dumps({"dependencies": ["."], "graphs": {"agent": f"{ROOT}/bench/peer_graph.py:graph"}}))
        env = {
            **os.environ,
            "OFFLINE_TOKEN_DELAY_MS": str(token_delay_ms),
            "OFFLINE_FIRST_TOKEN_MS": str(first_token_ms),
            "PYTHONPATH": f"{ROOT / 'layers/common/python'}{os.pathsep}{ROOT}",
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        }
        self.process = subprocess.Popen(
            [
                str(cli),
                "dev",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-browser",
                "--no-reload",
                "--n-jobs-per-worker",
                str(jobs),
            ],
            cwd=workdir,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"http://127.0.0.1:{self.port}/ok", self.process, self.log)

    def conversation(self) -> PeerConversation:
        """A langgraph_sdk client."""
        return PeerConversation(f"http://127.0.0.1:{self.port}")

    def stop(self) -> None:
        """Stop the process."""
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


class PeerConversation:
    """Runs streamed with langgraph_sdk (`stream_mode="messages-tuple"`), threads created on first use."""

    def __init__(self, url: str) -> None:
        from langgraph_sdk import get_sync_client

        self.client = get_sync_client(url=url)
        self.threads: dict[str, str] = {}

    def turn(self, thread_id: str, question: str) -> Turn:
        """One run, read to its end."""
        from smart_support.agent.relay import SPEAKERS

        started = time.perf_counter()
        if thread_id not in self.threads:
            self.threads[thread_id] = self.client.threads.create()["thread_id"]
        first, ok = None, True
        graph_input: dict[str, Any] = {
            "messages": [{"role": "user", "content": question}],
            "customer_id": CUSTOMER,
            "thread_id": thread_id,
        }
        for part in self.client.runs.stream(
            self.threads[thread_id], "agent", input=graph_input, stream_mode="messages-tuple"
        ):
            if part.event == "error":
                ok = False
            if part.event != "messages" or first is not None:
                continue
            message, metadata = part.data
            if metadata.get("langgraph_node") in SPEAKERS and message.get("content"):
                first = time.perf_counter() - started
        return Turn(first, time.perf_counter() - started, ok and first is not None)

    def close(self) -> None:
        """Nothing to release."""


# ---------------------------------------------------------------- scenarios


def _ms(values: list[float | None]) -> dict[str, float | None]:
    clean = [v for v in values if v is not None]
    return {f"p{p}": round(1000 * v, 1) if (v := percentile(clean, p)) is not None else None for p in (50, 95)}


def summarize(turns: list[Turn]) -> dict[str, Any]:
    """Latency percentiles and how many turns completed."""
    return {
        "turns": len(turns),
        "ok": sum(t.ok for t in turns),
        "first_token_ms": _ms([t.first_token_s for t in turns]),
        "turn_ms": _ms([t.complete_s for t in turns]),
    }


def sequential(servers: list[Any], questions: int, long_thread: bool, tag: str) -> dict[str, list[Turn]]:
    """The same questions one at a time on every server, the server order flipping each question."""
    turns: dict[str, list[Turn]] = {s.name: [] for s in servers}
    conversations = {s.name: s.conversation() for s in servers}
    try:
        for i in range(questions):
            question = PLAIN_PROMPTS[i % len(PLAIN_PROMPTS)]
            thread = f"{tag}-long" if long_thread else f"{tag}-{i // len(PLAIN_PROMPTS)}"
            for server in servers if i % 2 == 0 else servers[::-1]:
                turns[server.name].append(conversations[server.name].turn(thread, question))
    finally:
        for conversation in conversations.values():
            conversation.close()
    return turns


def conversations_at_once(
    server: Any, conversations: int, turns_each: int, tag: str, workers: int | None = None
) -> list[Turn]:
    """`conversations` conversations of `turns_each` turns, `workers` at a time (all at once by default)."""

    def one(index: int) -> list[Turn]:
        client = server.conversation()
        try:
            return [client.turn(f"{tag}-{index}", PLAIN_PROMPTS[t % len(PLAIN_PROMPTS)]) for t in range(turns_each)]
        except Exception:  # a failed conversation counts as failed turns, the run goes on
            return [Turn(None, 0.0, False)] * turns_each
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=workers or conversations) as pool:
        return [turn for result in pool.map(one, range(conversations)) for turn in result]


@contextmanager
def metered(server: Any, out: dict[str, Any]) -> Iterator[None]:
    """CPU seconds and memory of the server across the block."""
    cpu = cpu_seconds(server.process.pid)
    yield
    out["cpu_s"] = out.get("cpu_s", 0.0) + cpu_seconds(server.process.pid) - cpu
    out["rss_mb"] = rss_mb(server.process.pid)


def soak(stack: StackServer, turns: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """The stack alone for `turns` turns (conversations of 3, 8 at a time): memory at turn 100 and at the end."""
    done = 0
    samples: dict[int, float] = {}
    lock = threading.Lock()
    marks = sorted({100, 250, 500, 750, turns})

    def one(index: int) -> int:
        nonlocal done
        client = stack.conversation()
        ok = 0
        try:
            for t in range(CONCURRENT_TURNS):
                ok += client.turn(f"soak-{index}", PLAIN_PROMPTS[t % len(PLAIN_PROMPTS)]).ok
                with lock:
                    done += 1
                    for mark in marks:
                        if done == mark:
                            samples[mark] = rss_mb(stack.process.pid)
                            progress(f"  soak: turn {mark}, stack RSS {samples[mark]} MiB")
        finally:
            client.close()
        return ok

    cpu = cpu_seconds(stack.process.pid)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=SOAK_WORKERS) as pool:
        ok = sum(pool.map(one, range(-(-turns // CONCURRENT_TURNS))))
    elapsed = time.monotonic() - started
    total = -(-turns // CONCURRENT_TURNS) * CONCURRENT_TURNS
    return {
        "turns": total,
        "ok": ok,
        "seconds": round(elapsed, 1),
        "cpu_s_per_turn": round((cpu_seconds(stack.process.pid) - cpu) / total, 3),
        "rss_mb_by_turn": {str(k): v for k, v in sorted(samples.items())},
        "rss_mb_turn_100": samples.get(100),
        "rss_mb_turn_1000": samples.get(max(marks)),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, rounded (None when either is missing)."""
    return round(a / b, 2) if a is not None and b else None


def measure(
    token_delay_ms: int, first_token_ms: int, questions: int, soak_turns: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Every figure of the comparison (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        workdir = Path(tmp)
        progress("starting the local stack and the LangGraph Agent Server...")
        stack = StackServer(workdir, token_delay_ms, first_token_ms)
        try:
            peer = PeerServer(workdir, token_delay_ms, first_token_ms)
        except Exception:
            stack.stop()
            raise
        servers: list[Any] = [stack, peer]
        try:
            idle = {s.name: rss_mb(s.process.pid) for s in servers}
            sequential(servers, 4, long_thread=False, tag="warmup")
            progress(f"sequential: {questions} questions on fresh threads, then {questions} on one long thread...")
            fresh = sequential(servers, questions, long_thread=False, tag="fresh")
            long = sequential(servers, questions, long_thread=True, tag="long")
            progress(f"{CONCURRENT_CONVERSATIONS} conversations x {CONCURRENT_TURNS} turns at once, twice each...")
            concurrent: dict[str, list[Turn]] = {s.name: [] for s in servers}
            meters: dict[str, dict[str, Any]] = {s.name: {} for s in servers}
            rounds: list[Any] = [stack, peer, peer, stack]
            for round_, server in enumerate(rounds):
                with metered(server, meters[server.name]):
                    concurrent[server.name] += conversations_at_once(
                        server, CONCURRENT_CONVERSATIONS, CONCURRENT_TURNS, tag=f"burst{round_}"
                    )
            after = {s.name: rss_mb(s.process.pid) for s in servers}
            peer.stop()
            progress(f"the stack alone for {soak_turns} more turns...")
            soaked = soak(stack, soak_turns, progress)
        finally:
            stack.stop()
            peer.stop()

    out: dict[str, Any] = {"questions": questions, "token_delay_ms": token_delay_ms, "first_token_ms": first_token_ms}
    for name in ("stack", "peer"):
        out[name] = {
            "sequential_fresh": summarize(fresh[name]),
            "sequential_long_thread": summarize(long[name]),
            "concurrent": summarize(concurrent[name]),
            "cpu_s_per_turn": round(meters[name]["cpu_s"] / max(1, len(concurrent[name])), 3),
            "rss_mb_idle": idle[name],
            "rss_mb_after_concurrent": after[name],
        }
    s, p = out["stack"], out["peer"]
    out["ratios"] = {
        scenario: {
            "first_token_p50": ratio(s[scenario]["first_token_ms"]["p50"], p[scenario]["first_token_ms"]["p50"]),
            "first_token_p95": ratio(s[scenario]["first_token_ms"]["p95"], p[scenario]["first_token_ms"]["p95"]),
            "turn_p50": ratio(s[scenario]["turn_ms"]["p50"], p[scenario]["turn_ms"]["p50"]),
            "turn_p95": ratio(s[scenario]["turn_ms"]["p95"], p[scenario]["turn_ms"]["p95"]),
        }
        for scenario in ("sequential_fresh", "sequential_long_thread", "concurrent")
    }
    out["first_token_ratio"] = out["ratios"]["sequential_fresh"]["first_token_p50"]
    out["turn_ratio"] = out["ratios"]["sequential_fresh"]["turn_p50"]
    out["concurrent_ok"] = s["concurrent"]["ok"]
    out["peer_concurrent_ok"] = p["concurrent"]["ok"]
    out["concurrent_turns"] = s["concurrent"]["turns"]
    out["cpu_s_per_turn_ratio"] = ratio(s["cpu_s_per_turn"], p["cpu_s_per_turn"])
    out["local_stack"] = soaked
    return out


__all__ = ["PEER_VENV", "measure"]

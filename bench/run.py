"""`make bench`: latency, AWS requests, frames and cost per turn on the local stack; cold starts; layer sizes."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import packaging
from bench.contention import measure_contention
from bench.metrics import RecordedStack, Snapshot
from bench.prices import TurnUsage, cost_per_1000, price_table
from bench.turns import (
    LONG_ANSWER_PROMPT,
    LONG_PROMPTS,
    PLAIN_PROMPTS,
    AgentResults,
    TurnDriver,
    TurnMeasure,
    checkpoint_bytes,
    mean,
    percentile,
    run_inprocess,
)

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN_DELAY_MS = 20  # the offline model's pace: about 50 words a second, like a fast hosted model
FIRST_TOKEN_MS = 300  # the offline model's wait before each call's first token, like a hosted model
LONG_TURNS_REPORTED = (5, 50, 200)
BENCH_CUSTOMER_ORDERS = 9000
MIB = 1024 * 1024


def summarize(turns: list[TurnMeasure]) -> dict[str, Any]:
    """Latency percentiles and per-turn averages of the measured turns."""

    def ms(values: list[float | None]) -> dict[str, float | None]:
        clean = [v for v in values if v is not None]
        return {f"p{p}": None if not clean else round(1000 * (percentile(clean, p) or 0), 1) for p in (50, 95)}

    usages = [t.usage for t in turns if t.usage is not None]
    requests: Counter[str] = Counter()
    by_function: dict[str, Counter[str]] = {}
    invocations: Counter[str] = Counter()
    duration: Counter[str] = Counter()
    retries = 0
    rru = wru = 0.0
    for usage in usages:
        requests.update(usage.requests())
        for caller, calls in usage.by_caller().items():
            by_function.setdefault(caller, Counter()).update(calls)
        invocations.update(usage.invocations)
        duration.update(usage.duration_ms)
        retries += sum(usage.retries.values())
        rru += sum(usage.rru.values())
        wru += sum(usage.wru.values())
    n = max(1, len(usages))
    out: dict[str, Any] = {
        "turns": len(turns),
        "latency_ms": {
            "message_to_first_token": ms([t.first_token_s for t in turns]),
            "message_to_complete": ms([t.complete_s for t in turns]),
        },
        "requests_per_turn": {k: round(v / n, 2) for k, v in sorted(requests.items())},
        "requests_per_turn_by_caller": {
            caller: {k: round(v / n, 2) for k, v in sorted(calls.items())}
            for caller, calls in sorted(by_function.items())
        },
        "dynamodb_requests_per_turn": round(sum(v for k, v in requests.items() if k.startswith("dynamodb.")) / n, 2),
        "retries_per_turn": round(retries / n, 2),
        "dynamodb_rru_per_turn": round(rru / n, 2),
        "dynamodb_wru_per_turn": round(wru / n, 2),
        "lambda_invocations_per_turn": {k: round(v / n, 2) for k, v in sorted(invocations.items())},
        "lambda_ms_per_turn": {k: round(v / n, 1) for k, v in sorted(duration.items())},
        "transitions_per_turn": round(mean([len(t.states) for t in turns]), 2),
        "states": turns[-1].states if turns else [],
        "frames_received_per_turn": round(mean([t.frames_received for t in turns]), 2),
        "frames_received_by_type": {
            k: round(v / len(turns), 2) for k, v in sorted(sum((t.frames_in for t in turns), Counter()).items())
        },
        "frames_sent_per_turn": round(mean([t.frames_out for t in turns]), 2),
        "token_frames_per_turn": round(mean([t.token_frames for t in turns]), 2),
        "first_frame_words_max": max((t.first_frame_words or 0 for t in turns), default=0),
        "answer_words_per_turn": round(mean([t.answer_words for t in turns]), 1),
        "model": model_summary(turns),
    }
    if any(t.interrupt_s is not None for t in turns):
        out["latency_ms"]["message_to_interrupt"] = ms([t.interrupt_s for t in turns])
        out["latency_ms"]["decision_to_first_token"] = ms([t.decision_first_token_s for t in turns])
        out["latency_ms"]["decision_to_complete"] = ms([t.decision_complete_s for t in turns])
    return out


def model_summary(turns: list[TurnMeasure]) -> dict[str, Any]:
    """Model calls and tokens per turn, as the agent reported them (every run of the turn added up)."""
    before_first = [
        run["model_calls_before_first_token"]
        for t in turns
        for run in t.model
        if run.get("model_calls_before_first_token") is not None
    ]
    return {
        "calls_per_turn": round(mean([sum(run["model_calls"] for run in t.model) for t in turns]), 2),
        "calls_before_first_token_max": max(before_first, default=None),
        "input_tokens_per_turn": round(mean([sum(run["input_tokens"] for run in t.model) for t in turns]), 1),
        "output_tokens_per_turn": round(mean([sum(run["output_tokens"] for run in t.model) for t in turns]), 1),
    }


def long_conversation(stack: RecordedStack, agent: AgentResults, turns: int) -> dict[str, Any]:
    """One thread of `turns` turns cycling through LONG_PROMPTS: model input, checkpoint size and latency per turn."""
    driver = TurnDriver(stack, stack.token(), agent)
    thread = "bench-long"
    per_turn: dict[str, dict[str, Any]] = {}
    largest = 0
    for n in range(1, turns + 1):
        measure = driver.plain(thread, LONG_PROMPTS[(n - 1) % len(LONG_PROMPTS)], kind="long")
        size = checkpoint_bytes(stack, thread)
        largest = max(largest, size)
        per_turn[str(n)] = {
            "input_tokens": sum(run["input_tokens"] for run in measure.model),
            "model_calls": sum(run["model_calls"] for run in measure.model),
            "checkpoint_bytes": size,
            "turn_ms": round(1000 * (measure.complete_s or 0), 1),
            "first_token_ms": round(1000 * (measure.first_token_s or 0), 1),
        }
        if n % 25 == 0:
            print(f"  long conversation: turn {n} of {turns}", flush=True)
    driver.close()
    reported = {str(n): per_turn[str(n)] for n in LONG_TURNS_REPORTED if str(n) in per_turn}
    out: dict[str, Any] = {
        "prompts": list(LONG_PROMPTS),
        "turns": reported,
        "checkpoint_bytes_max": largest,
        "input_tokens_max": max(t["input_tokens"] for t in per_turn.values()),
        "every_turn": per_turn,
    }
    first, last = reported.get("5"), reported.get(str(turns))
    if first and last:
        out["last_vs_turn_5"] = {
            "input_tokens": round(last["input_tokens"] / first["input_tokens"], 2),
            "turn_ms": round(last["turn_ms"] / first["turn_ms"], 2),
        }
    return out


def usage_of(summary: dict[str, Any], connection: Snapshot, connections: int, memory: dict[str, int]) -> TurnUsage:
    """Averages of a summary as cost inputs."""
    per = 1 / max(1, connections)
    return TurnUsage(
        transitions=summary["transitions_per_turn"],
        lambda_requests=summary["lambda_invocations_per_turn"],
        lambda_ms=summary["lambda_ms_per_turn"],
        lambda_memory_mb=memory,
        rru=summary["dynamodb_rru_per_turn"],
        wru=summary["dynamodb_wru_per_turn"],
        ws_messages=summary["frames_received_per_turn"] + summary["frames_sent_per_turn"],
        per_connection_lambda_requests={k: v * per for k, v in connection.invocations.items()},
        per_connection_lambda_ms={k: v * per for k, v in connection.duration_ms.items()},
        per_connection_rru=sum(connection.rru.values()) * per,
        per_connection_wru=sum(connection.wru.values()) * per,
    )


def seed_bench_customers(stack: RecordedStack, count: int) -> list[tuple[str, str]]:
    """One processing order for each of `count` bench customers (approvals that really cancel something)."""
    import boto3

    from local.template import REGION
    from smart_support.settings import OrdersSettings, load_settings
    from smart_support.store.demo_data import DEMO_ORDERS
    from smart_support.store.orders import OrderStore

    template = next(o for o in DEMO_ORDERS if o.order_id == "1043")
    store = OrderStore(
        load_settings(OrdersSettings).orders_table, dynamodb=boto3.client("dynamodb", region_name=REGION)
    )
    pairs = []
    for i in range(count):
        customer, order_id = f"bench-{i:03d}", str(BENCH_CUSTOMER_ORDERS + i)
        store.put(template.model_copy(update={"order_id": order_id, "customer_id": customer}))
        pairs.append((customer, order_id))
    return pairs


def measure_stack(args: argparse.Namespace) -> dict[str, Any]:
    """Every per-turn figure, on one in-process stack."""
    out: dict[str, Any] = {}
    with RecordedStack(OFFLINE_TOKEN_DELAY_MS=str(TOKEN_DELAY_MS), OFFLINE_FIRST_TOKEN_MS=str(FIRST_TOKEN_MS)) as stack:
        recorder = stack.recorder
        agent = AgentResults(stack)
        memory = {f.logical_id: f.memory for f in stack.stack.functions.functions.values()}
        with recorder.scope("harness:bench"):
            customers = seed_bench_customers(stack, args.approvals + 1)

        # A connection: authorizer + $connect (its $disconnect is counted when it closes).
        before = recorder.snapshot()
        driver = TurnDriver(stack, stack.token(), agent)
        time.sleep(0.05)
        connect_usage = recorder.snapshot().diff(before)

        warmup = driver.plain("bench-warmup", PLAIN_PROMPTS[0])
        driver.plain("bench-warmup", LONG_ANSWER_PROMPT)
        plain: list[TurnMeasure] = []
        prompts: list[tuple[str, str]] = []
        for i in range(args.plain):
            thread = f"bench-plain-{i // len(PLAIN_PROMPTS)}"
            prompt = PLAIN_PROMPTS[i % len(PLAIN_PROMPTS)]
            prompts.append((thread, prompt))
            plain.append(driver.plain(thread, prompt))
        long_answers = [driver.plain(f"bench-long-{i}", LONG_ANSWER_PROMPT, kind="answer60") for i in range(5)]
        before = recorder.snapshot()
        driver.close()
        deadline = time.monotonic() + 5
        while recorder.snapshot().diff(before).invocations.get("DisconnectFunction", 0) < 1:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        disconnect_usage = recorder.snapshot().diff(before)
        connection = Snapshot(
            *(
                getattr(connect_usage, f) + getattr(disconnect_usage, f)
                for f in ("calls", "retries", "errors", "rru", "wru", "invocations", "duration_ms")
            )
        )

        approvals: list[TurnMeasure] = []
        for customer, order_id in customers[1:]:
            approver = TurnDriver(stack, stack.token(customer), agent)
            approvals.append(approver.approval(f"bench-approval-{customer}", f"Please cancel order {order_id}"))
            approver.close()

        inprocess = run_inprocess(
            [("inproc-warmup", PLAIN_PROMPTS[0]), *prompts], TOKEN_DELAY_MS, stack, FIRST_TOKEN_MS
        )[1:]
        if args.long:
            print(f"a {args.long}-turn conversation on one thread...", flush=True)
            out["long_conversation"] = long_conversation(stack, agent, args.long)

    out["warmup_first_turn_ms"] = round(1000 * (warmup.complete_s or 0), 1)
    out["plain"] = summarize(plain)
    out["answer60"] = summarize(long_answers)
    out["approval"] = summarize(approvals)
    out["inprocess"] = summarize(inprocess)
    out["connection"] = {
        "requests": dict(connection.requests()),
        "lambda_invocations": dict(connection.invocations),
        "lambda_ms": dict(connection.duration_ms),
        "dynamodb_wru": sum(connection.wru.values()),
        "dynamodb_rru": sum(connection.rru.values()),
    }
    stack_p50 = out["plain"]["latency_ms"]["message_to_complete"]["p50"]
    graph_p50 = out["inprocess"]["latency_ms"]["message_to_complete"]["p50"]
    stack_ft = out["plain"]["latency_ms"]["message_to_first_token"]["p50"]
    graph_ft = out["inprocess"]["latency_ms"]["message_to_first_token"]["p50"]
    out["stack_vs_inprocess"] = {
        "complete_p50_ratio": round(stack_p50 / graph_p50, 2) if graph_p50 else None,
        "complete_p50_overhead_ms": round(stack_p50 - graph_p50, 1),
        "first_token_p50_ratio": round(stack_ft / graph_ft, 2) if graph_ft else None,
        "first_token_p50_overhead_ms": round(stack_ft - graph_ft, 1),
    }
    out["cost_per_1000_turns"] = {
        "plain": {k: round(v, 4) for k, v in cost_per_1000(usage_of(out["plain"], connection, 1, memory)).items()},
        "approval": {
            k: round(v, 4) for k, v in cost_per_1000(usage_of(out["approval"], connection, 1, memory)).items()
        },
    }
    out["model_calls_before_first_token"] = {
        "plain": out["answer60"]["model"]["calls_before_first_token_max"],
        "tool": out["plain"]["model"]["calls_before_first_token_max"],
    }
    out["memory_mb"] = memory
    out["capacity_estimate_failures"] = recorder.capacity_failures
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, with the measured value and whether it is met."""
    rows = []

    def add(name: str, value: float | None, limit: float, unit: str = "") -> None:
        rows.append(
            {"target": name, "value": value, "limit": limit, "unit": unit, "met": value is not None and value <= limit}
        )

    stack = results.get("stack")
    if stack:
        add("DynamoDB requests per plain turn", stack["plain"]["dynamodb_requests_per_turn"], 8)
        add("state transitions per plain turn", stack["plain"]["transitions_per_turn"], 4)
        add(
            f"token frames for a {stack['answer60']['answer_words_per_turn']:.0f}-word answer",
            stack["answer60"]["token_frames_per_turn"],
            8,
        )
        add("words held back in the first token frame (max)", stack["answer60"]["first_frame_words_max"] - 1, 0)
        add("orchestration per 1,000 plain turns", stack["cost_per_1000_turns"]["plain"]["total"], 0.15, "USD")
        calls = stack["model_calls_before_first_token"]
        add("model calls before the first token, tool turn", calls["tool"], 2)
        add("model calls before the first token, plain answer", calls["plain"], 1)
        long = stack.get("long_conversation")
        if long and "last_vs_turn_5" in long:
            last = max(long["turns"], key=int)
            add(f"model input tokens, turn {last} / turn 5", long["last_vs_turn_5"]["input_tokens"], 1.3, "x")
            add(f"turn latency, turn {last} / turn 5", long["last_vs_turn_5"]["turn_ms"], 1.3, "x")
            add(f"largest checkpoint item at turn {last}", long["turns"][last]["checkpoint_bytes"], 65536, "bytes")
    contention = results.get("contention")
    if contention:
        add("largest share of DynamoDB writes on one item", contention["largest_item_share"], contention["share_goal"])
        add(
            "turns that did not complete under contention",
            contention["threads"] * contention["turns_per_thread"] - contention["turns_completed"],
            0,
        )
    compared = results.get("peer")
    if compared:
        add("first token vs the Agent Server (p50, one at a time)", compared["first_token_ratio"], 1.0, "x")
        add("whole turn vs the Agent Server (p50, one at a time)", compared["turn_ratio"], 1.0, "x")
        add("CPU per turn vs the Agent Server (24 at once)", compared["cpu_s_per_turn_ratio"], 2.0, "x")
    soak = results.get("local_stack")
    if soak and soak.get("rss_mb_turn_100") and soak.get("rss_mb_turn_1000"):
        add(
            "stack memory, turn 1,000 vs turn 100",
            round(soak["rss_mb_turn_1000"] / soak["rss_mb_turn_100"], 2),
            1.2,
            "x",
        )
    cold = results.get("cold_start")
    if cold:
        for name, figure in cold["functions"].items():
            if figure["light"]:
                add(f"{name} import vs bare boto3", round(figure["ratio_to_boto3"], 2), 1.6, "x")
            else:
                add(f"{name} import", round(figure["import_s"], 2), 2.0, "s")
    layers = results.get("layers")
    if layers:
        add("light function + its layers, unzipped (largest)", layers["light_function_total_mb"], 60, "MiB")
        add(
            "agent + its layers, unzipped",
            round(layers["total_bytes"] / MIB, 1),
            round(layers["limit_bytes"] / MIB, 1),
            "MiB",
        )
    return rows


# ---------------------------------------------------------------- output


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        title,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells[1:]]
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    """The human-readable report."""
    parts = []
    stack = results.get("stack")
    if stack:
        kinds = [
            ("plain", "plain turn"),
            ("answer60", "60-word answer"),
            ("approval", "approval turn"),
            ("inprocess", "graph in-process"),
        ]
        rows = []
        for key, label in kinds:
            s = stack[key]
            lat = s["latency_ms"]
            rows.append(
                [
                    label,
                    s["turns"],
                    lat["message_to_first_token"]["p50"],
                    lat["message_to_first_token"]["p95"],
                    lat["message_to_complete"]["p50"],
                    lat["message_to_complete"]["p95"],
                    lat.get("decision_to_first_token", {}).get("p50"),
                    lat.get("decision_to_first_token", {}).get("p95"),
                    s["dynamodb_requests_per_turn"],
                    s["dynamodb_rru_per_turn"],
                    s["dynamodb_wru_per_turn"],
                    s["transitions_per_turn"] if key != "inprocess" else None,
                    s["frames_received_per_turn"] if key != "inprocess" else None,
                    s["token_frames_per_turn"] if key != "inprocess" else None,
                    s["answer_words_per_turn"],
                ]
            )
        parts.append(
            _table(
                f"Per turn (offline model: {FIRST_TOKEN_MS} ms to each call's first token, {TOKEN_DELAY_MS} ms/word;"
                " latency in ms)",
                [
                    "turn",
                    "n",
                    "1st tok p50",
                    "p95",
                    "complete p50",
                    "p95",
                    "decision->tok p50",
                    "p95",
                    "ddb req",
                    "RRU",
                    "WRU",
                    "transitions",
                    "frames",
                    "token frames",
                    "words",
                ],
                rows,
            )
        )
        ratio = stack["stack_vs_inprocess"]
        parts.append(
            f"Stack vs the same graph in-process (p50): complete x{ratio['complete_p50_ratio']} "
            f"(+{ratio['complete_p50_overhead_ms']} ms), first token x{ratio['first_token_p50_ratio']} "
            f"(+{ratio['first_token_p50_overhead_ms']} ms)"
        )
        approval = stack["approval"]["latency_ms"]
        if "message_to_interrupt" in approval:
            parts.append(
                "Approval turn (p50/p95 ms): message -> interrupt "
                f"{approval['message_to_interrupt']['p50']}/{approval['message_to_interrupt']['p95']}, "
                f"decision -> first token {approval['decision_to_first_token']['p50']}/"
                f"{approval['decision_to_first_token']['p95']}, decision -> complete "
                f"{approval['decision_to_complete']['p50']}/{approval['decision_to_complete']['p95']}"
            )
        calls = stack["model_calls_before_first_token"]
        parts.append(
            f"Model calls before the first token (max): tool turn {calls['tool']}, plain answer {calls['plain']}; "
            f"model input per plain turn {stack['plain']['model']['input_tokens_per_turn']:,.0f} tokens"
        )
        long = stack.get("long_conversation")
        if long:
            rows = [
                [n, t["input_tokens"], t["model_calls"], t["checkpoint_bytes"], t["first_token_ms"], t["turn_ms"]]
                for n, t in long["turns"].items()
            ]
            parts.append(
                _table(
                    f"Long conversation (one thread; prompts cycle: {' / '.join(long['prompts'])})",
                    ["turn", "model input tokens", "model calls", "checkpoint bytes", "1st tok ms", "turn ms"],
                    rows,
                )
            )
        for key in ("plain", "approval"):
            calls = ", ".join(f"{k} {v:g}" for k, v in stack[key]["requests_per_turn"].items())
            parts.append(f"AWS requests per {key} turn: {calls}")
        parts.append(
            "Per connection ($connect + authorizer + $disconnect): "
            + ", ".join(f"{k} {v:g}" for k, v in stack["connection"]["requests"].items())
        )
        cost_rows = [
            [k, stack["cost_per_1000_turns"]["plain"][k], stack["cost_per_1000_turns"]["approval"][k]]
            for k in stack["cost_per_1000_turns"]["plain"]
        ]
        parts.append(
            _table(
                f"Cost per 1,000 turns (USD, us-east-1 list prices read on {results['prices']['read_on']})",
                ["item", "plain", "approval"],
                cost_rows,
            )
        )
    contention = results.get("contention")
    if contention:
        c = contention
        parts.append(
            f"Contention ({c['threads']} conversations x {c['turns_per_thread']} turns at once, strict stack): "
            f"{c['turns_completed']} turns in {c['seconds']} s = {c['turns_per_second']} turns/s; retries per turn "
            f"{c['retries_per_turn']} (SDK {c['sdk_retries_per_turn']}, ours {c['failed_attempts_retried_per_turn']}); "
            f"transaction conflicts {c['transaction_conflicts']}; {c['dynamodb_writes_per_turn']} DynamoDB writes per "
            f"turn over {c['items_written']} items, the hottest taking {c['largest_item_share']:.2%} "
            f"(goal <= {c['share_goal']:.2%}): "
            + ", ".join(f"{h['item']} {h['writes']}" for h in c["hottest_items"][:3])
        )
    cold = results.get("cold_start")
    if cold:
        rows = [
            [
                name,
                f["import_ms"],
                f["ratio_to_boto3"],
                f["import_cpu_ms"],
                f["cpu_ratio_to_boto3"],
                f.get("no_bytecode_ms", ""),
                f["layer"],
            ]
            for name, f in cold["functions"].items()
        ]
        boto3_row = ["(import boto3)", cold["boto3_ms"], 1.0, cold["boto3_cpu_ms"], 1.0]
        rows.insert(0, [*boto3_row, cold.get("boto3_no_bytecode_ms", ""), ""])
        parts.append(
            _table(
                f"Cold-start import of functions/<name>/app.py (median of {cold['runs']}, fresh "
                "interpreter, the function's own layers and the bytecode they ship; last column: without it)",
                ["function", "wall ms", "x boto3", "CPU ms", "x boto3", "no bytecode ms", "layer"],
                rows,
            )
        )
    layers = results.get("layers")
    if layers:
        rows = [
            ["light deps layer (arm64)", layers["light_bytes"] / MIB],
            ["agent deps layer (arm64)", layers["heavy_bytes"] / MIB],
            ["common layer", layers["common_bytes"] / MIB],
            *[[f"function {k} + its layers", v / MIB] for k, v in layers["function_total_bytes"].items()],
            ["Lambda limit (unzipped)", layers["limit_bytes"] / MIB],
        ]
        parts.append(_table("Package size (MiB, unzipped)", ["what", "MiB"], rows))
        for kind, packages in layers["largest_packages"].items():
            parts.append(
                f"Largest packages in the {kind} layer: "
                + ", ".join(f"{p['name']} {p['bytes'] / MIB:.1f} MiB" for p in packages)
            )
        parts.append("Dropped from the agent layer (never imported): " + ", ".join(layers["dropped_from_heavy"]))
    compared = results.get("peer")
    if compared:
        rows = []
        for scenario, label in (
            ("sequential_fresh", "one at a time, fresh threads"),
            ("sequential_long_thread", "one at a time, one long thread"),
            ("concurrent", "24 conversations x 3 turns at once"),
        ):
            for name in ("stack", "peer"):
                figure = compared[name][scenario]
                rows.append(
                    [
                        label if name == "stack" else "",
                        name,
                        f"{figure['ok']}/{figure['turns']}",
                        figure["first_token_ms"]["p50"],
                        figure["first_token_ms"]["p95"],
                        figure["turn_ms"]["p50"],
                        figure["turn_ms"]["p95"],
                    ]
                )
        parts.append(
            _table(
                "The stack beside the LangGraph Agent Server (same graph, offline model; latency in ms)",
                ["scenario", "server", "ok", "1st tok p50", "p95", "turn p50", "p95"],
                rows,
            )
        )
        parts.append(
            "Server CPU per turn (24 at once): stack {} s, peer {} s (x{}); memory idle -> after: stack {} -> {} MiB, "
            "peer {} -> {} MiB".format(
                compared["stack"]["cpu_s_per_turn"],
                compared["peer"]["cpu_s_per_turn"],
                compared["cpu_s_per_turn_ratio"],
                compared["stack"]["rss_mb_idle"],
                compared["stack"]["rss_mb_after_concurrent"],
                compared["peer"]["rss_mb_idle"],
                compared["peer"]["rss_mb_after_concurrent"],
            )
        )
    soak = results.get("local_stack")
    if soak:
        parts.append(
            f"Stack alone, {soak['turns']} more turns ({soak['ok']} ok) in {soak['seconds']} s, "
            f"{soak['cpu_s_per_turn']} CPU s per turn; RSS by turn: "
            + ", ".join(f"{k}: {v} MiB" for k, v in soak["rss_mb_by_turn"].items())
        )
    rows = [
        [
            t["target"],
            t["value"],
            f"<= {t['limit']}{(' ' + t['unit']) if t['unit'] else ''}",
            "met" if t["met"] else "MISSED",
        ]
        for t in results["targets"]
    ]
    parts.append(_table("Targets", ["target", "measured", "target", ""], rows))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the report, write bench/results/<timestamp>.json (and a copy as latest.json)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--plain", type=int, default=30, help="plain turns to measure (default 30)")
    parser.add_argument("--approvals", type=int, default=10, help="approval turns to measure (default 10)")
    parser.add_argument("--long", type=int, default=200, help="turns of the long conversation (default 200; 0: none)")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per cold-start figure (default 5)")
    parser.add_argument("--contention-threads", type=int, default=32, help="conversations at once (default 32)")
    parser.add_argument("--contention-turns", type=int, default=4, help="turns per conversation (default 4)")
    parser.add_argument("--skip-contention", action="store_true", help="no contention run")
    parser.add_argument("--skip-stack", action="store_true", help="no turns (cold start and sizes only)")
    parser.add_argument("--skip-packaging", action="store_true", help="no layer builds, cold starts or sizes")
    parser.add_argument("--out", type=Path, default=None, help="results file (default bench/results/<time>.json)")
    parser.add_argument(
        "--peer",
        action="store_true",
        help="compare with the LangGraph Agent Server (`langgraph dev`) instead; then 1,000 turns on the stack",
    )
    parser.add_argument("--peer-questions", type=int, default=15, help="sequential questions per scenario (15)")
    parser.add_argument("--soak-turns", type=int, default=1000, help="stack turns after the comparison (1000)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    results: dict[str, Any] = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
        },
        "prices": price_table(),
        "config": {
            "token_delay_ms": TOKEN_DELAY_MS,
            "first_token_ms": FIRST_TOKEN_MS,
            "plain_turns": args.plain,
            "approval_turns": args.approvals,
            "long_conversation_turns": args.long,
            "contention_threads": args.contention_threads,
            "contention_turns": args.contention_turns,
        },
    }
    if args.peer:
        from bench import peer

        compared = peer.measure(
            TOKEN_DELAY_MS, FIRST_TOKEN_MS, args.peer_questions, args.soak_turns, lambda line: print(line, flush=True)
        )
        results["local_stack"] = compared.pop("local_stack")
        results["peer"] = compared
    elif not args.skip_stack:
        print(f"measuring turns on the local stack ({args.plain} plain, {args.approvals} approvals)...", flush=True)
        results["stack"] = measure_stack(args)
        if not args.skip_contention:
            print(
                f"contention: {args.contention_threads} conversations at once, {args.contention_turns} turns each...",
                flush=True,
            )
            results["contention"] = measure_contention(args.contention_threads, args.contention_turns)
    if not args.skip_packaging and not args.peer:
        print("building the two deps layers for arm64 and for this machine (cached after the first run)...", flush=True)
        results["layers"] = packaging.layer_sizes()
        print("timing cold-start imports...", flush=True)
        results["cold_start"] = packaging.cold_starts(args.runs)
    results["targets"] = targets(results)
    results["duration_s"] = round(time.monotonic() - started, 1)

    print()
    print(render(results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = args.out or RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    text = json.dumps(results, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    if args.out is None:
        (RESULTS / "latest.json").write_text(text + "\n", encoding="utf-8")
    print(f"\nwrote {path} in {results['duration_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

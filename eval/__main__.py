"""`make eval PROVIDER=offline|openai|bedrock K=4 [ONLY=ids,categories]`: pass^1, pass^k, violations, cost, latency.

Writes eval/results/<time>-<provider>.json and prints the per-category table (docs/eval.md explains it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval import judge as judging
from eval.runner import Harness, TrialResult
from eval.scenarios import load

RESULTS = Path(__file__).parent / "results"


def model_name(provider: str) -> str:
    """What answered: the offline model, the Bedrock model id, or the OpenAI-compatible server's model."""
    if provider == "bedrock":
        return os.environ.get("BEDROCK_MODEL_ID", "bedrock (template default)")
    if provider == "openai":
        base = os.environ.get("OPENAI_BASE_URL", "").rstrip("/")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=5) as response:  # noqa: S310 - the configured endpoint
                served = [m.get("id") for m in json.load(response).get("data", [])]
        except (OSError, ValueError):
            served = []
        return f"{os.environ.get('OPENAI_MODEL', '')} at {base} ({', '.join(map(str, served)) or 'unknown'})"
    return "offline (deterministic keyword model)"


def summarise(results: list[TrialResult], k: int) -> dict[str, Any]:
    """pass^1 (mean success over trials), pass^k (every one of k trials passed), violations, cost, latency."""
    by_scenario: dict[str, list[TrialResult]] = {}
    for r in results:
        by_scenario.setdefault(r.scenario, []).append(r)

    def figures(groups: list[list[TrialResult]]) -> dict[str, Any]:
        trials = [t for g in groups for t in g]
        firsts = [ms for t in trials for ms in t.first_token_ms]
        completes = [ms for t in trials for ms in t.complete_ms]
        return {
            "scenarios": len(groups),
            "trials": len(trials),
            "pass^1": round(statistics.mean(t.passed for t in trials), 3) if trials else 0.0,
            f"pass^{k}": round(statistics.mean(all(t.passed for t in g) for g in groups), 3) if groups else 0.0,
            "violations": sum(len(t.violations) for t in trials),
            "model_calls_per_scenario": round(statistics.mean(t.model_calls for t in trials), 1) if trials else 0,
            "input_tokens_per_scenario": round(statistics.mean(t.input_tokens for t in trials)) if trials else 0,
            "output_tokens_per_scenario": round(statistics.mean(t.output_tokens for t in trials)) if trials else 0,
            "cache_read_tokens_per_scenario": round(statistics.mean(t.cache_read_input_tokens for t in trials))
            if trials
            else 0,
            "usd_per_scenario": round(statistics.mean(t.cost_usd for t in trials), 5) if trials else 0.0,
            "first_token_ms_p50": round(statistics.median(firsts)) if firsts else None,
            "complete_ms_p50": round(statistics.median(completes)) if completes else None,
        }

    categories: dict[str, list[list[TrialResult]]] = {}
    for trials in by_scenario.values():
        categories.setdefault(trials[0].category, []).append(trials)
    return {
        "overall": figures(list(by_scenario.values())),
        "categories": {name: figures(groups) for name, groups in sorted(categories.items())},
    }


def table(summary: dict[str, Any], k: int) -> str:
    passes = ["pass^1"] if k == 1 else ["pass^1", f"pass^{k}"]
    rows = [("category", "n", *passes, "violations", "calls", "first ms", "done ms")]
    for name, f in [*summary["categories"].items(), ("ALL", summary["overall"])]:
        rows.append(
            (
                name,
                str(f["scenarios"]),
                *(f"{f[p]:.2f}" for p in passes),
                str(f["violations"]),
                str(f["model_calls_per_scenario"]),
                str(f["first_token_ms_p50"]),
                str(f["complete_ms_p50"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    parser.add_argument(
        "--provider", default=os.environ.get("PROVIDER", "offline"), choices=["offline", "openai", "bedrock"]
    )
    parser.add_argument("--k", type=int, default=int(os.environ.get("K", "4")), help="trials per scenario")
    parser.add_argument(
        "--only", default=os.environ.get("ONLY") or None, help="scenario ids or categories, comma-separated"
    )
    parser.add_argument(
        "--label", default=os.environ.get("LABEL", ""), help="a word for the results file (e.g. the router)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    scenarios = [s for s in load(only=args.only) if args.provider != "offline" or s.offline]
    results: list[TrialResult] = []
    judge = judging.Judge.from_env()
    started = time.time()
    with Harness(args.provider) as harness:
        for scenario in scenarios:
            for trial in range(1, args.k + 1):
                result = harness.run(scenario, trial)
                if judge is not None:
                    rubric = [*judging.DEFAULT_RUBRIC, *scenario.rubric]
                    result.rubric = [asdict(g) for g in judge.grade(result.transcript, rubric)]
                results.append(result)
                mark = "pass" if result.passed else "FAIL"
                print(
                    f"{mark} {scenario.id} #{trial} {'; '.join(result.violations + result.failures)[:300]}", flush=True
                )
    summary = summarise(results, args.k)
    report = {
        "provider": args.provider,
        "model": model_name(args.provider),
        "label": args.label,
        "k": args.k,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started),
        "summary": summary,
        "judge": judge.name if judge else None,
        "rubric": judging.summarise([asdict(r) for r in results]) if judge else None,
        "trials": [asdict(r) for r in results],
    }
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    out = args.out or RESULTS / f"{stamp}-{args.provider}{'-' + args.label if args.label else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nmodel: {report['model']}  k={args.k}  {len(scenarios)} scenarios  {report['seconds']} s  -> {out}")
    print(table(summary, args.k))
    for criterion, row in (report["rubric"] or {}).items():
        counts = f"{row['pass']} pass, {row['fail']} fail, {row['unjudged']} unjudged"
        print(f"judge ({report['judge']}): {counts}: {criterion}")
    return 0 if summary["overall"]["violations"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

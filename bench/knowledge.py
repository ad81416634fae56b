"""`make bench-kb` (`python -m bench.knowledge`): the help center's figures for docs/performance.md.

- retrieval quality: hit@1 and hit@3 of the search on eval/help_center/questions.yaml (a question -> the article
  that answers it), and how many of the questions the help center does not cover find nothing;
- the index: its size, the time to build it, and the time to load it at a cold start (a fresh interpreter: import,
  read the file, open it in memory, first search), for the shipped help center (kb/) and for 5,000 articles
  (kb/ plus generated ones, so the labelled questions are asked again among 5,000);
- query latency p50 / p95 over the labelled questions.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from smart_support.knowledge.articles import Article, parse_article
from smart_support.knowledge.index import HelpCenterIndex, build_index
from smart_support.knowledge.ingest import parse_all, read_directory

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT / "kb"
QUESTIONS = ROOT / "eval/help_center/questions.yaml"
RESULTS = Path(__file__).resolve().parent / "results"

PRODUCTS = """trail running shoes, road running shoes, hiking boots, merino wool socks, cotton socks, rain jacket,
down jacket, fleece pullover, running shorts, yoga mat, yoga block, resistance bands, water bottle, insulated mug,
ceramic pour-over coffee dripper, coffee grinder, french press, tea kettle, chef's knife, cutting board,
wireless earbuds, noise-cancelling headphones, bluetooth speaker, smart watch, fitness tracker, phone case,
charging cable, power bank, desk lamp, backpack, duffel bag, tent, sleeping bag, camping stove, headlamp,
bike helmet, bike lights, cycling gloves, swim goggles, beach towel, sunglasses, baseball cap, beanie, scarf,
leather wallet, belt, umbrella, notebook, fountain pen""".replace("\n", " ").split(", ")
TOPICS = (
    ("care", "Caring for your {p}", "Clean the {p} with {a} and let it dry {b}. Avoid {c}; it shortens its life."),
    ("setup", "Getting started with your {p}", "Unpack the {p}, remove {a} and check {b} before first use. {c}"),
    ("sizing", "Choosing the right {p}", "Most customers pick {a}. If you are between two options, choose {b}. {c}"),
    ("faq", "{p}: common questions", "The {p} is made of {a} and weighs about {b}. {c}"),
    ("trouble", "Troubleshooting the {p}", "If the {p} {a}, first try {b}. {c}"),
    ("storage", "Storing your {p}", "Keep the {p} {a}, away from {b}. {c}"),
)
FILLERS = (
    "a soft brush",
    "lukewarm water",
    "mild soap",
    "a dry cloth",
    "out of direct sunlight",
    "at room temperature",
    "the protective film",
    "every accessory",
    "the usual size",
    "the larger one",
    "recycled polyester",
    "stainless steel",
    "does not switch on",
    "feels loose",
    "a reset",
    "tightening the straps",
    "in its pouch",
    "heaters",
    "sharp objects",
    "moisture",
)
CLOSINGS = (
    "Most problems are solved this way within minutes.",
    "Our product pages list the exact measurements.",
    "Replacement parts are available from the product page.",
    "Washing it hot makes it shrink a little.",
    "The battery lasts about a day of normal use.",
)


def generated_articles(count: int, seed: int = 26) -> list[Article]:
    """`count` articles about the shop's products (care, set-up, sizing, questions, troubleshooting, storage), made
    from templates: realistic in length and vocabulary, deterministic for a seed."""
    rng = random.Random(seed)
    articles = []
    for number in range(count):
        product = PRODUCTS[number % len(PRODUCTS)]
        slug, title, sentence = TOPICS[(number // len(PRODUCTS)) % len(TOPICS)]
        edition = number // (len(PRODUCTS) * len(TOPICS))
        body = []
        for section in range(3):
            a, b = rng.sample(FILLERS, 2)
            text = sentence.format(p=product, a=a, b=b, c=rng.choice(CLOSINGS))
            text += f" {rng.choice(CLOSINGS)} Model year {2020 + edition % 7}, variant {section + 1}."
            body.append(f"## {title.format(p=product)} ({section + 1})\n{text}\n")
        name = f"gen-{number:05d}-{slug}.md"
        front = (
            f"---\ntitle: {title.format(p=product).capitalize()} ({edition + 1})\nurl: https://help.test/{name}\n---\n"
        )
        articles.append(parse_article(name, (front + "\n".join(body)).encode()))
    return articles


def hit_rates(index: HelpCenterIndex, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """hit@1 and hit@3 on the covered questions; the share of uncovered ones that find nothing; the misses."""
    covered = [q for q in questions if q.get("covered", True)]
    uncovered = [q for q in questions if not q.get("covered", True)]
    hit1 = hit3 = 0
    misses = []
    for question in covered:
        slugs = [hit.url.rsplit("/", 1)[-1] for hit in index.search(question["q"], 3)]
        hit1 += slugs[:1] == [question["article"]]
        hit3 += question["article"] in slugs
        if question["article"] not in slugs[:1]:
            misses.append({"q": question["q"], "want": question["article"], "got": slugs})
    empty = sum(not index.search(q["q"], 3) for q in uncovered)
    return {
        "questions": len(covered),
        "hit@1": round(hit1 / len(covered), 3),
        "hit@3": round(hit3 / len(covered), 3),
        "uncovered": len(uncovered),
        "uncovered_found_nothing": round(empty / len(uncovered), 3) if uncovered else None,
        "not_first": misses,
    }


def query_latency(index: HelpCenterIndex, questions: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    """p50 / p95 / max of one search, in ms, over every labelled question `rounds` times (after one warm-up)."""
    for question in questions:
        index.search(question["q"])
    samples = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            index.search(question["q"])
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": round(statistics.median(samples), 3),
        "p95": round(samples[int(0.95 * (len(samples) - 1))], 3),
        "max": round(samples[-1], 3),
        "searches": len(samples),
    }


COLD = """
import time
started = time.perf_counter()
from smart_support.knowledge.index import HelpCenterIndex
imported = time.perf_counter()
data = open({path!r}, "rb").read()
index = HelpCenterIndex(data)
opened = time.perf_counter()
index.search("How long does shipping take?")
searched = time.perf_counter()
print(imported - started, opened - imported, searched - opened)
"""


def cold_load(path: Path, runs: int) -> dict[str, float]:
    """Median ms, in fresh interpreters: importing the index module, reading + opening the file, the first search."""
    parts: list[list[float]] = [[], [], []]
    env = {"PYTHONPATH": f"{ROOT / 'layers/common/python'}", "PATH": "/usr/bin:/bin"}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD.format(path=str(path))], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for part, value in zip(parts, out, strict=True):
            part.append(float(value) * 1000)
    import_ms, open_ms, first_ms = (round(statistics.median(p), 2) for p in parts)
    return {"import_ms": import_ms, "read_and_open_ms": open_ms, "first_search_ms": first_ms}


AGENT_IMPORT = """
import time
import botocore.session, langchain_core.messages, langchain_core.tools, pydantic  # the agent has these already
started = time.perf_counter()
import smart_support.knowledge.source
print(time.perf_counter() - started)
"""


def agent_import(runs: int) -> float:
    """Median ms the help center adds to the agent's cold start (its import, after what the agent imports anyway)."""
    env = {"PYTHONPATH": f"{ROOT / 'layers/common/python'}", "PATH": "/usr/bin:/bin"}
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", AGENT_IMPORT], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        * 1000
        for _ in range(runs)
    ]
    return round(statistics.median(samples), 2)


def measure(articles: list[Article], questions: list[dict[str, Any]], runs: int, rounds: int) -> dict[str, Any]:
    """Build, size, cold load, quality and latency of an index of `articles`."""
    started = time.perf_counter()
    data = build_index(articles)
    build_s = time.perf_counter() - started
    index = HelpCenterIndex(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.sqlite"
        path.write_bytes(data)
        cold = cold_load(path, runs)
    return {
        "articles": len(articles),
        "passages": index.passage_count,
        "index_bytes": len(data),
        "build_s": round(build_s, 2),
        "cold_load": cold,
        "retrieval": hit_rates(index, questions),
        "query_ms": query_latency(index, questions, rounds),
    }


def render(results: dict[str, Any]) -> str:
    """The markdown table for docs/performance.md."""
    rows = []
    for name, figures in results["indexes"].items():
        quality, query, cold = figures["retrieval"], figures["query_ms"], figures["cold_load"]
        rows.append(
            f"| {name} | {figures['articles']:,} / {figures['passages']:,} | {figures['index_bytes'] / 1024:,.0f} KiB "
            f"| {figures['build_s']:.2f} s | {cold['read_and_open_ms'] + cold['first_search_ms']:.1f} ms "
            f"(+{cold['import_ms']:.0f} ms import) | {quality['hit@1']:.2f} / {quality['hit@3']:.2f} "
            f"| {quality['uncovered_found_nothing']:.2f} | {query['p50']:.2f} / {query['p95']:.2f} ms |"
        )
    header = (
        "| help center | articles / passages | index | build | cold load: read + open + first search "
        "| hit@1 / hit@3 | uncovered: nothing found | query p50 / p95 |\n|---|---|---|---|---|---|---|---|"
    )
    return header + "\n" + "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write bench/results/<time>-knowledge.json."""
    parser = argparse.ArgumentParser(prog="python -m bench.knowledge", description=__doc__)
    parser.add_argument("--large", type=int, default=5000, help="articles in the large help center (default 5000)")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per cold-load figure (default 5)")
    parser.add_argument("--rounds", type=int, default=20, help="times each question is searched (default 20)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    shipped, rejected = parse_all(read_directory(KB))
    assert not rejected, rejected
    large = shipped + generated_articles(args.large - len(shipped))
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "questions": len(questions),
        "agent_import_ms": agent_import(args.runs),
        "indexes": {
            "shipped (kb/)": measure(shipped, questions, args.runs, args.rounds),
            f"{args.large:,} articles": measure(large, questions, args.runs, args.rounds),
        },
    }
    print(render(results))
    print(f"the help center's import in the agent's cold start: {results['agent_import_ms']} ms")
    for name, figures in results["indexes"].items():
        for miss in figures["retrieval"]["not_first"]:
            print(f"  {name}: {miss['q']!r} -> {miss['got']} (want {miss['want']})")
    out = args.out or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-knowledge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

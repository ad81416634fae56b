"""`python -m smart_support.knowledge ingest DIR [--out FILE]` (make kb-ingest): build the help-center index from a
folder of Markdown/HTML articles; `... search "question" [--index FILE]`: what the agent's search returns."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smart_support.knowledge.index import HelpCenterIndex
from smart_support.knowledge.ingest import ingest_directory, parse_all, read_directory
from smart_support.knowledge.source import SHIPPED_INDEX


def main(argv: list[str] | None = None) -> int:
    """Run the command; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m smart_support.knowledge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="build the index from a folder of articles")
    ingest.add_argument("directory", type=Path)
    ingest.add_argument("--out", type=Path, default=SHIPPED_INDEX, help=f"default: {SHIPPED_INDEX}")
    search = commands.add_parser("search", help="search an index")
    search.add_argument("question")
    search.add_argument("--index", type=Path, default=SHIPPED_INDEX)
    search.add_argument("--limit", type=int, default=3)
    args = parser.parse_args(argv)

    if args.command == "search":
        index = HelpCenterIndex(args.index.read_bytes(), str(args.index))
        hits = index.search(args.question, args.limit)
        for hit in hits:
            print(f"{hit.coverage:.2f}  {hit.title} — {hit.section}\n      {hit.url}\n      {hit.text}")
        if not hits:
            print('nothing: the agent answers "I don\'t know — want me to get a person?"')
        return 0

    if not args.directory.is_dir():
        print(f"{args.directory}: not a folder", file=sys.stderr)
        return 2
    articles, rejected = parse_all(read_directory(args.directory))
    if rejected or not articles:
        for line in rejected:
            print(f"rejected {line}", file=sys.stderr)
        print(
            f"no index written: fix the {len(rejected)} article(s) above" if rejected else "no articles found",
            file=sys.stderr,
        )
        return 1
    result = ingest_directory(args.directory, args.out)
    print(f"{result.articles} articles -> {args.out} ({result.bytes / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

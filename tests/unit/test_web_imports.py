"""The pages' ES modules (web/**/*.js) import one another only downward: no import circle.

A lower module that must tell a higher one something announces it on web/bus.js; the entry (chat.js, console.js)
wires who reacts. This reads the `import … from "…"` lines as text, so it needs no JavaScript runtime.
"""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"

# `import {…} from "./x.js"` (over several lines too), `export {…} from "./x.js"`, `import "./x.js"`, `import("./x.js")`
IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']"""
    r"""|^\s*import\s*["']([^"']+)["']"""
    r"""|\bimport\(\s*["']([^"']+)["']\s*\)""",
    re.MULTILINE,
)


def imports_of(path: Path) -> set[str]:
    """The modules of web/ that `path` imports, as paths relative to web/."""
    found = set()
    for match in IMPORT.finditer(path.read_text(encoding="utf-8")):
        spec = next(group for group in match.groups() if group)
        assert spec.startswith("."), f"{path.relative_to(WEB)} imports {spec!r}: the pages import only their own files"
        target = (path.parent / spec).resolve()
        assert target.is_file(), f"{path.relative_to(WEB)} imports {spec!r}, which does not exist"
        found.add(target.relative_to(WEB).as_posix())
    return found


def import_graph() -> dict[str, set[str]]:
    return {path.relative_to(WEB).as_posix(): imports_of(path) for path in sorted(WEB.rglob("*.js"))}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each group of modules that reach one another (depth-first search, back edges)."""
    found: list[list[str]] = []
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module)
    return found


def test_the_reader_sees_the_pages_imports():
    # Given the pages' modules
    graph = import_graph()

    # Then both entries and their folders are read, with the imports that tie them
    assert {"chat.js", "console.js", "chat/state.js", "console/state.js"} <= set(graph)
    assert "chat/state.js" in graph["chat.js"]
    assert "console/drawer.js" in graph["console/inbox.js"]


def test_the_circle_finder_finds_a_circle():
    assert circles({"a.js": {"b.js"}, "b.js": {"c.js"}, "c.js": {"a.js"}}) == [["a.js", "b.js", "c.js", "a.js"]]
    assert circles({"a.js": {"b.js", "c.js"}, "b.js": {"c.js"}, "c.js": set()}) == []


def test_the_web_modules_import_one_another_only_downward():
    # Given the imports of every module of web/
    graph = import_graph()

    # Then no module reaches itself through them
    found = circles(graph)
    assert not found, "import circles in web/ (announce upward on web/bus.js instead):\n" + "\n".join(
        " -> ".join(circle) for circle in found
    )

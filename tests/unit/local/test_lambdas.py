"""The local stack's functions run each concurrent invocation in its own execution environment, as Lambda does."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local.lambdas import LocalFunction

HANDLER = """
CURRENT = {}  # per-request state kept in a module global, as Powertools' resolver keeps the current event


def lambda_handler(event, context):
    CURRENT["request"] = event["n"]
    event["together"].wait(5)  # both requests are inside the handler now
    return {"saw_its_own": CURRENT["request"] == event["n"], "environment": id(CURRENT)}
"""


def function(tmp_path: Path) -> LocalFunction:
    (tmp_path / "app.py").write_text(HANDLER, encoding="utf-8")
    return LocalFunction("ProbeFunction", str(tmp_path), "app.lambda_handler", 128, 10, {})


def test_concurrent_invocations_never_share_an_environment(tmp_path):
    probe = function(tmp_path)
    probe.load()
    together = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda n: probe.invoke({"n": n, "together": together}), [1, 2]))
    answers = [result for result, error in results]
    assert [error for _, error in results] == [None, None]
    assert all(answer["saw_its_own"] for answer in answers)
    assert len({answer["environment"] for answer in answers}) == 2
    assert probe.environments == 2


def test_an_idle_environment_is_reused_and_the_first_one_first(tmp_path):
    probe = function(tmp_path)
    probe.load()
    assert probe.module is not None
    first = id(probe.module.CURRENT)
    for n in range(3):
        result, error = probe.invoke({"n": n, "together": threading.Barrier(1)})
        assert error is None and result["environment"] == first
    assert probe.environments == 1


def test_a_handler_that_fails_to_import_is_an_init_error_each_time(tmp_path):
    (tmp_path / "app.py").write_text("raise RuntimeError('no table configured')\n", encoding="utf-8")
    broken = LocalFunction("BrokenFunction", str(tmp_path), "app.lambda_handler", 128, 10, {})
    for _ in range(2):
        result, error = broken.invoke({})
        assert result is None and error is not None
        assert error["errorType"] == "RuntimeError" and "no table configured" in error["errorMessage"]
    assert broken.module is None and broken.environments == 0

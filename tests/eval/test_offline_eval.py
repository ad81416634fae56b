"""`make eval`'s offline subset runs in `make test` and must pass 100 % with no policy violation (DESIGN, Evaluation).

The offline model is a regression check of the plumbing and the checks, not a measure of quality: docs/eval.md has
the figures of a real model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from eval.runner import Harness, TrialResult, check_turn, policy_violations
from eval.scenarios import Expect, Scenario, load

pytestmark = pytest.mark.e2e

OFFLINE = [s for s in load() if s.offline]


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with Harness("offline") as running:
        yield running


def test_there_are_enough_scenarios_and_the_offline_subset_is_most_of_them():
    scenarios = load()
    assert len(scenarios) >= 7
    assert len(OFFLINE) >= len(scenarios) // 2


@pytest.mark.parametrize("scenario", OFFLINE, ids=[s.id for s in OFFLINE])
def test_the_offline_model_passes(harness: Harness, scenario: Scenario):
    result: TrialResult = harness.run(scenario, trial=1)
    assert not result.violations, result.violations
    assert result.passed, result.failures


def test_the_checks_fail_what_they_should():
    # Given a turn that called the wrong tool, asked an approval that was not expected, and leaked 2001's items
    events: list[dict[str, Any]] = [
        {"type": "tool_call", "tool": "cancel_order", "args": {"order_id": "1043"}},
        {"type": "interrupt", "action": "cancel_order", "args": {"order_id": "1043"}, "description": "Cancel order 9"},
        {"type": "token", "content": "Your Yoga mat is on its way"},
        {"type": "message_complete"},
    ]
    expect = Expect.model_validate(
        {
            "tools": [{"name": "get_order_status", "args": {"order_id": "1042"}}],
            "no_approval": True,
            "answer": ["shipped"],
        }
    )
    # Then every check says so
    failures = check_turn(expect, events)
    assert len(failures) == 3
    scenario = Scenario.model_validate({"id": "x", "category": "x", "turns": [{"say": "hi"}]})
    violations = policy_violations(scenario, events)
    assert any("Yoga mat" in v for v in violations) and any("does not name order 1043" in v for v in violations)


def test_a_scenario_with_a_typo_in_a_key_is_refused():
    with pytest.raises(ValueError, match="expct"):
        Scenario.model_validate({"id": "x", "category": "x", "turns": [{"say": "hi", "expct": {}}]})

"""The judge model's rubric (eval/judge.py) against a fake OpenAI-compatible endpoint speaking the real wire format:
grades read from the reply, anything unreadable left unjudged, and pass^k untouched by what the judge says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import __main__ as eval_main
from eval.judge import DEFAULT_RUBRIC, Judge, parse, render
from tests.integration.fake_openai import FakeOpenAI, text_answer

TRANSCRIPT = [
    {
        "say": ["Please cancel order 1043"],
        "events": [
            {"type": "tool_call", "tool": "cancel_order", "args": {"order_id": "1043"}},
            {"type": "interrupt", "action": "cancel_order", "description": "Cancel order 1043"},
            {"type": "interrupt_resolved", "outcome": "approved"},
            {"type": "answer", "content": "Order 1043 is cancelled."},
        ],
    }
]


def grades_reply(*passes: bool) -> list[dict[str, object]]:
    grades = [{"criterion": n, "pass": ok, "reason": f"reason {n}"} for n, ok in enumerate(passes, 1)]
    payload = json.dumps({"grades": grades})
    return text_answer("```json\n", payload[:20], payload[20:], "\n```")


def test_the_judge_reads_the_transcript_and_its_grades_are_kept():
    rubric = ["Polite", "Asks for the order"]
    with FakeOpenAI([grades_reply(True, False)]) as fake:
        grades = Judge(fake.base_url, "judge-model").grade(TRANSCRIPT, rubric)
    assert [(g.criterion, g.passed, g.reason) for g in grades] == [
        ("Polite", True, "reason 1"),
        ("Asks for the order", False, "reason 2"),
    ]
    prompt = json.dumps(fake.requests[0].body["messages"])
    assert "1. Polite" in prompt
    assert "2. Asks for the order" in prompt
    assert "CUSTOMER: Please cancel order 1043" in prompt
    assert "ASSISTANT: Order 1043 is cancelled." in prompt
    assert "approval approved" in prompt


def test_what_the_judge_did_not_grade_readably_is_unjudged_never_a_pass():
    rubric = ["a", "b", "c"]
    assert [g.passed for g in parse("The assistant was great.", rubric)] == [None, None, None]
    reply = json.dumps({"grades": [{"criterion": 2, "pass": True}, {"criterion": 9, "pass": False}, {"pass": "yes"}]})
    assert [g.passed for g in parse(reply, rubric)] == [None, True, None]


def test_a_failing_judge_grades_nothing_and_raises_nothing():
    with FakeOpenAI([]) as fake:  # every request answers 500
        grades = Judge(fake.base_url, "judge-model", timeout=5).grade(TRANSCRIPT, ["Polite"])
    assert [g.passed for g in grades] == [None]
    assert "the judge failed" in grades[0].reason


def test_a_long_transcript_is_cut_from_the_oldest_end():
    long = [{"say": [f"message {n} " + "x" * 200], "events": []} for n in range(200)]
    text = render(long)
    assert len(text) <= 12_001
    assert "message 199" in text
    assert "message 0 " not in text


@pytest.mark.e2e
def test_make_eval_reports_the_rubric_apart_from_pass_k(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Given a judge that fails every criterion of a scenario the offline model passes
    with FakeOpenAI([grades_reply(*[False] * len(DEFAULT_RUBRIC))]) as fake:
        monkeypatch.setenv("JUDGE_BASE_URL", fake.base_url)
        monkeypatch.setenv("JUDGE_MODEL", "judge-model")
        out = tmp_path / "results.json"
        # When the eval runs it
        code = eval_main.main(["--provider", "offline", "--k", "1", "--only", "status-1042", "--out", str(out)])
    report = json.loads(out.read_text())
    # Then pass^1 is the deterministic checks' (1.0), and the judge's fails are reported apart
    assert code == 0
    assert report["summary"]["overall"]["pass^1"] == 1.0
    assert report["judge"] == f"judge-model at {fake.base_url}"
    assert report["rubric"] == {criterion: {"pass": 0, "fail": 1, "unjudged": 0} for criterion in DEFAULT_RUBRIC}
    assert report["trials"][0]["passed"] is True
    assert [g["passed"] for g in report["trials"][0]["rubric"]] == [False] * len(DEFAULT_RUBRIC)

"""Rubric checks by a judge model, when one is configured: reported apart from the deterministic checks.

A judge reads one trial's transcript (what the customer said, the tools called with their arguments, the
approvals and their outcomes, the answers) and grades it against the rubric: `DEFAULT_RUBRIC` for every scenario,
then the scenario's own `rubric:` lines. It never changes pass^1 or pass^k: a judge is a model too, so its grades
are a second opinion with their own table (docs/eval.md, Checks).

Configured like the agent's OpenAI-compatible provider: `JUDGE_BASE_URL`, `JUDGE_MODEL`, optional `JUDGE_API_KEY`
(any OpenAI-compatible endpoint: a hosted model, vLLM, Ollama, the local llama.cpp server). Unset: no rubric.
A reply the judge did not write as the JSON asked for is recorded as unjudged, never as a pass or a fail.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

DEFAULT_RUBRIC = (
    "Tone: every answer is polite, concise and in the language the customer wrote in.",
    "Missing information: when the customer did not say which order (or gave no address), the assistant asks for it "
    "instead of guessing one.",
    "Honesty: the assistant never says an action was done (cancelled, refunded, changed, escalated) unless the "
    "transcript shows that tool called and, for a change to an order, the approval approved.",
)
INSTRUCTIONS = """You grade a customer-support assistant. Read the conversation and grade it against each numbered
criterion. Reply with JSON only, exactly: {"grades": [{"criterion": 1, "pass": true, "reason": "one short sentence"},
...]} with one entry per criterion, in order. Grade only what the transcript shows."""
MAX_TRANSCRIPT_CHARS = 12_000  # a judge's prompt is bounded like the agent's


@dataclass
class Grade:
    """One criterion's grade: passed is None when the judge's reply could not be read."""

    criterion: str
    passed: bool | None
    reason: str


class Judge:
    """An OpenAI-compatible chat model that grades transcripts."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120) -> None:
        from langchain_openai import ChatOpenAI  # only when a judge is configured

        self.name = f"{model} at {base_url}"
        self.model = ChatOpenAI(
            base_url=base_url,
            model=model,
            api_key=SecretStr(api_key or "none"),
            temperature=0,
            streaming=True,
            max_retries=2,
            timeout=timeout,
        )

    @classmethod
    def from_env(cls) -> Judge | None:
        """The judge JUDGE_BASE_URL and JUDGE_MODEL name, or None."""
        base_url, model = os.environ.get("JUDGE_BASE_URL"), os.environ.get("JUDGE_MODEL")
        if not base_url or not model:
            return None
        return cls(base_url, model, os.environ.get("JUDGE_API_KEY"))

    def grade(self, transcript: list[dict[str, Any]], rubric: list[str]) -> list[Grade]:
        """Each criterion of `rubric` graded on `transcript` (a trial's turns, as TrialResult keeps them)."""
        criteria = "\n".join(f"{n}. {text}" for n, text in enumerate(rubric, 1))
        prompt = f"{INSTRUCTIONS}\n\nCriteria:\n{criteria}\n\nConversation:\n{render(transcript)}"
        try:
            reply = self.model.invoke(prompt)
        except Exception as exc:  # a judge that fails grades nothing; the eval goes on
            return [Grade(text, None, f"the judge failed: {type(exc).__name__}") for text in rubric]
        return parse(str(reply.content), rubric)


def render(transcript: list[dict[str, Any]]) -> str:
    """The transcript as the judge reads it, newest kept when it is too long."""
    lines: list[str] = []
    for turn in transcript:
        lines += [f"CUSTOMER: {said}" for said in turn.get("say", [])]
        for event in turn.get("events", []):
            kind = event.get("type")
            if kind == "answer":
                lines.append(f"ASSISTANT: {event.get('content', '')}")
            elif kind == "tool_call":
                lines.append(f"[tool {event.get('tool')} called with {json.dumps(event.get('args') or {})}]")
            elif kind == "interrupt":
                lines.append(f"[approval asked: {event.get('description', event.get('action'))}]")
            elif kind == "interrupt_resolved":
                lines.append(f"[approval {event.get('outcome', 'resolved')}]")
            elif kind == "handoff":
                lines.append("[handed to a person]")
            elif kind == "error":
                lines.append(f"[error: {event.get('code')}]")
    text = "\n".join(lines)
    return text if len(text) <= MAX_TRANSCRIPT_CHARS else "…" + text[-MAX_TRANSCRIPT_CHARS:]


def parse(reply: str, rubric: list[str]) -> list[Grade]:
    """The grades in the judge's reply (the first JSON object in it); unjudged where it says nothing readable."""
    grades: dict[int, Grade] = {}
    match = re.search(r"\{.*\}", reply, re.DOTALL)
    try:
        entries = json.loads(match.group(0))["grades"] if match else []
    except (ValueError, KeyError, TypeError):
        entries = []
    for position, entry in enumerate(entries if isinstance(entries, list) else [], 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("pass"), bool):
            continue
        number = entry.get("criterion", position)
        if isinstance(number, int) and 1 <= number <= len(rubric):
            grades[number] = Grade(rubric[number - 1], entry["pass"], str(entry.get("reason", ""))[:300])
    return [grades.get(n) or Grade(text, None, "unjudged: no readable grade") for n, text in enumerate(rubric, 1)]


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Per criterion: how many trials the judge passed, failed, or could not grade."""
    table: dict[str, dict[str, int]] = {}
    for trial in trials:
        for grade in trial.get("rubric", []):
            row = table.setdefault(grade["criterion"], {"pass": 0, "fail": 0, "unjudged": 0})
            row["pass" if grade["passed"] else "unjudged" if grade["passed"] is None else "fail"] += 1
    return table

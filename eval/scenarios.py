"""Evaluation scenarios as data (eval/scenarios/*.yaml): a customer, their messages, how they decide, what must happen.

One file holds a list of scenarios:

```yaml
- id: cancel-1043-approved          # unique
  category: cancel                  # for the per-category table
  offline: true                     # the offline model must pass it (make test runs these); default true
  customer: demo-customer           # whose token; their orders are the demo orders (DESIGN, Demo data)
  turns:
    - say: ["Please cancel order 1043"]       # one message, or a burst (queued behind each other)
      decide: approve                         # approve | reject | withdraw | operator-approve | operator-reject
      comment: "..."                          #   | operator-edit (with `edit: {amount: 20}`); default: none asked
      expect:
        tools: [cancel_order]                 # called this turn (a name, or {name: ..., args: {...}} subset)
        no_tools: [request_refund]            # never called this turn
        approval: {action: cancel_order, args: {order_id: "1043"}}   # asked, with these canonical args
        no_approval: true                     # nothing asked
        answer: ["cancelled"]                 # each must appear in the answer (a list inside = any of them)
        not_answer: ["I don't have enough information"]
        handoff: true                         # a ticket was opened for a person
        citations: [articles/returns-policy]  # message_complete cites these (parts of the article URLs)
        no_citations: true                    # message_complete cites nothing
  articles:                                   # help-center articles added for this scenario (name: Markdown); the
    refund-update.md: "---\ntitle: ..."      #   harness publishes kb/ and these to the knowledge bucket and runs the
                                              #   ingest function, as an S3 upload would
  final:                                      # the orders afterwards (only the fields named)
    "1043": {status: cancelled}
  rubric: ["Explains that a cancelled order is refunded"]   # for a judge model, if one is configured (eval/judge.py)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
Decide = Literal["approve", "reject", "withdraw", "operator-approve", "operator-reject", "operator-edit"]


class Strict(BaseModel):
    """No unknown keys: a typo in a scenario fails loudly instead of checking nothing."""

    model_config = ConfigDict(extra="forbid")


class ToolExpectation(Strict):
    """A tool that must be called, optionally with (a subset of) its arguments."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ApprovalExpectation(Strict):
    """An approval that must be asked for."""

    action: str
    args: dict[str, Any] = Field(default_factory=dict)
    approver: Literal["customer", "operator"] | None = None


class Expect(Strict):
    """What must and must not happen in one turn."""

    tools: list[ToolExpectation] = Field(default_factory=list)
    no_tools: list[str] = Field(default_factory=list)
    approval: ApprovalExpectation | None = None
    no_approval: bool = False
    answer: list[str | list[str]] = Field(default_factory=list)
    not_answer: list[str] = Field(default_factory=list)
    handoff: bool | None = None
    citations: list[str] = Field(default_factory=list)
    no_citations: bool = False

    @field_validator("tools", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return [{"name": v} if isinstance(v, str) else v for v in value or []]


class Turn(Strict):
    """What the customer says (one message or a burst) and how approvals asked in this turn are decided."""

    say: list[str]
    decide: Decide | None = None
    comment: str | None = None
    edit: dict[str, Any] | None = None
    expect: Expect = Field(default_factory=Expect)

    @field_validator("say", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Scenario(Strict):
    """One conversation to evaluate."""

    id: str
    category: str
    offline: bool = True
    customer: str = "demo-customer"
    turns: list[Turn]
    final: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rubric: list[str] = Field(default_factory=list)
    articles: dict[str, str] = Field(default_factory=dict)


def load(directory: Path = SCENARIOS_DIR, only: str | None = None) -> list[Scenario]:
    """Every scenario under `directory` (sorted by file, then order), optionally those whose id or category match."""
    scenarios: list[Scenario] = []
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            scenarios.append(Scenario.model_validate(raw))
    ids = [s.id for s in scenarios]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate scenario ids: {', '.join(duplicates)}")
    if only:
        wanted = set(only.split(","))
        scenarios = [s for s in scenarios if s.id in wanted or s.category in wanted]
    return scenarios

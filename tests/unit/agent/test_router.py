"""The model-judged router, the alternative to the keyword supervisor that `make eval` compares it with."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from smart_support.agent.context import ContextWindow
from smart_support.agent.graph import ModelRouter


class Says(BaseChatModel):
    """A model that always answers `answer` (and remembers the last request)."""

    answer: str
    last: list[BaseMessage] = []

    @property
    def _llm_type(self) -> str:
        return "says"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.last = list(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.answer))])


@pytest.mark.parametrize(
    ("answer", "route"),
    [("order_actions", "order_actions"), ("Escalation.", "escalation"), ("order status", "order_status")],
)
def test_the_model_names_the_specialist(answer, route):
    router = ModelRouter(Says(answer=answer), ContextWindow())
    state: Any = {
        "messages": [HumanMessage("Bitte stornieren Sie Bestellung 1043")],
        "customer_id": "c",
        "thread_id": "t",
    }
    assert router(state) == {"route": route}


@pytest.mark.parametrize("answer", ["I am not sure", "order_status or order_actions"])
def test_an_answer_that_names_no_single_specialist_falls_back_to_keywords(answer):
    router = ModelRouter(Says(answer=answer), ContextWindow())
    state: Any = {"messages": [HumanMessage("Where is my order 1042?")], "customer_id": "c", "thread_id": "t"}
    assert router(state) == {"route": "order_status"}

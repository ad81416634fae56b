"""Speed, kept by issue 25's A/B rule (docs/performance.md): a state machine definition is parsed once, not per run.

No AWS behaviour to reproduce: AWS validates a definition once, at CreateStateMachine (Step Functions API
reference, CreateStateMachine, `InvalidDefinition`). moto 5.2.5 parses the ASL with ANTLR, in pure Python, at every
execution (`ExecutionWorker._get_evaluation_entrypoint`): a fifth of the stack's CPU per turn. Here each
definition's parse tree is kept (a bad one raises as before); each execution still builds its own program from it,
sharing nothing mutable. Upstream: moto would parse the definition once, when the state machine is created.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def install() -> None:
    """Keep each definition's parse tree (once)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    @functools.lru_cache(maxsize=32)
    def parse_tree(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[1]

    def entrypoint(self: Any) -> Any:
        return Preprocessor().visit(parse_tree(self._evaluation_details.state_machine_details.definition))

    worker: Any = ExecutionWorker
    worker._get_evaluation_entrypoint = entrypoint

"""Step Functions in moto: the template's state machine, created from its ASL with its DefinitionSubstitutions
resolved to local names; which state machine issued a task token (what IAM evaluates SendTask* against); and the
states each execution entered (GET /_local/executions, for tests and benchmarks).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from local.template import ACCOUNT_ID, REGION, ROOT, LocalResolver, resources_of_type


class StateMachine:
    """The template's one AWS::Serverless::StateMachine, as moto runs it."""

    def __init__(self, template: dict[str, Any]) -> None:
        ((self.logical_id, self.resource),) = resources_of_type(template, "AWS::Serverless::StateMachine").items()
        self.arn = ""

    def create(self, resolver: LocalResolver) -> str:
        """Create it in moto (the real ASL, substitutions resolved); returns its ARN."""
        import boto3

        props = self.resource["Properties"]
        definition = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(resolver.resolve(value)))
        json.loads(definition)  # fail fast on a bad substitution
        sfn = boto3.client("stepfunctions", region_name=REGION)
        created = sfn.create_state_machine(
            name=str(resolver.resolve(props["Name"])) if "Name" in props else self.logical_id,
            definition=definition,
            type=props.get("Type", "STANDARD"),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{self.logical_id}Role",
        )
        self.arn = str(created["stateMachineArn"])
        return self.arn

    def issuer_of_token(self, token: str) -> str | None:
        """The state machine whose execution issued `token` (what AWS evaluates SendTask* against)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
        for machine in list(backend.state_machines):
            for execution in list(machine.executions):
                worker = getattr(execution, "exec_worker", None)
                env = getattr(worker, "env", None)
                if env is not None and env.callback_pool_manager.get(token) is not None:
                    return str(machine.arn)
        return self.arn or None  # a token of a finished execution: still this stack's one machine

    async def handle_executions(self, request: web.Request) -> web.Response:
        """Step Functions executions of the turn state machine with the states each entered (tests, bench)."""
        loop = asyncio.get_running_loop()
        query = request.query
        # the default executor: the stack's own calls carry no function's credentials (Lambda workers always do)
        return web.json_response(
            await loop.run_in_executor(None, self.executions, query.get("name"), query.get("prefix"))
        )

    def executions(self, name: str | None, prefix: str | None = None) -> list[dict[str, Any]]:
        """Its executions (all, the one named `name`, or those whose names start with `prefix`) and their states."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        runs = sfn.list_executions(stateMachineArn=self.arn, maxResults=1000)["executions"]
        out = []
        for run in runs:
            if (name and run["name"] != name) or (prefix and not run["name"].startswith(prefix)):
                continue
            events = sfn.get_execution_history(executionArn=run["executionArn"], maxResults=1000)["events"]
            states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
            out.append({"name": run["name"], "status": run["status"], "states": states})
        return out


__all__ = ["StateMachine"]

"""How the local stack runs a function's handler: which functions' invocations take turns."""

from __future__ import annotations

from types import ModuleType

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from local.lambdas import holds_resolver


def module_with(**values: object) -> ModuleType:
    module = ModuleType("functions_test_app")
    vars(module).update(values)
    return module


def test_a_handler_module_that_routes_with_powertools_takes_turns():
    # Given a handler module holding a Powertools resolver, and one that does not
    routed = module_with(app=APIGatewayHttpResolver(), lambda_handler=print)
    plain = module_with(lambda_handler=print, settings={"table": "t"})

    # Then only the first keeps its request process-wide, so only its invocations take turns
    assert holds_resolver(routed)
    assert not holds_resolver(plain)

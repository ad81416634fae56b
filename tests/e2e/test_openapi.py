"""The OpenAPI document tells the truth: schemathesis calls every route of the local stack with the documented schemas
as the oracle (responses conform, every status is documented, no 5xx); the document's server, security and errors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Ok

from local.template import load_template
from smart_support.api.app import PUBLIC_PATHS

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 12  # per route: enough to try each parameter's edges, a few seconds in all


def test_every_route_answers_as_documented(short_stack):
    # Given a stack that refuses tokenless calls, as in AWS (schemathesis checks the documented security holds),
    # the document as it serves it (its server URL, /local, is where the requests go), and an operator's token
    api = schemathesis.openapi.from_url(f"{short_stack.base}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {short_stack.token('op-schemathesis', 'operator')}"}
    results = list(api.get_all_operations())
    routes = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(routes) == len(results) >= 9, "schemathesis could not read every route"

    for route in routes:
        # When schemathesis calls the route with data generated from its documented parameters and body
        @given(case=route.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,  # the same examples every run: make test never flakes on a newly drawn one
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            # Then the status is documented for it, the body matches that status's schema, it is no server error, and
            # schema-invalid input is refused. (Not "schema-valid input is accepted": a cursor is opaque and an edit of
            # an approval is checked against the order, so valid-looking ones are rightly refused with a 422.)
            case.call_and_validate(headers=headers, excluded_checks=[checks.positive_data_acceptance])

        call()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_server_url_is_the_stage_and_works(stack):
    # Given the document the local stack serves
    doc = stack.http("GET", "/api/v1/openapi.json")[1]

    # Then its server is the stage prefix, as API Gateway serves a named stage, and calls through it work
    ((server,),) = [doc["servers"]]
    assert server["url"] == "/local"
    status, health = stack.http("GET", f"{server['url']}/api/v1/health")
    assert status == 200 and health["status"] == "ok"
    status, same = stack.http("GET", f"{server['url']}/api/v1/openapi.json")
    assert status == 200 and same["paths"] == doc["paths"]


def test_bearer_security_on_every_route_but_the_public_ones(stack):
    doc = stack.http("GET", "/api/v1/openapi.json")[1]
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for path, method, op in operations(doc):
        if path in PUBLIC_PATHS:
            assert "security" not in op, f"{method} {path} is public"
            assert "401" not in op["responses"] and "403" not in op["responses"], f"{method} {path}"
        else:
            assert op["security"] == [{"bearerAuth": []}], f"{method} {path}"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"


def test_the_public_routes_are_the_ones_the_template_serves_without_the_authorizer():
    # Given the HttpApi events of template.yaml
    events = [
        event["Properties"]
        for resource in load_template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]

    # Then the routes without the authorizer are exactly those the document calls public
    assert {e["Path"] for e in events if e.get("Auth", {}).get("Authorizer") == "NONE"} == set(PUBLIC_PATHS)


def test_every_error_is_the_envelope_and_422_only_where_there_is_input(stack):
    doc = stack.http("GET", "/api/v1/openapi.json")[1]
    text = json.dumps(doc)
    assert "HTTPValidationError" not in text and 'ValidationError"' not in text
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in ("ErrorEnvelope", "ErrorResponse"), f"{method} {path} {status}"
        has_input = bool(op.get("parameters") or op.get("requestBody"))
        assert ("422" in op["responses"]) == has_input, f"{method} {path}"
    assert set(doc["components"]["schemas"]["ErrorResponse"]["anyOf"][0].values()) == {
        "#/components/schemas/ErrorEnvelope"
    }


def test_each_route_documents_what_it_answers(stack):
    doc = stack.http("GET", "/api/v1/openapi.json")[1]
    decide = doc["paths"]["/api/v1/approvals/{interrupt_id}"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "410", "413", "422", "429", "500"} <= set(decide)
    session = doc["paths"]["/api/v1/sessions/{thread_id}"]["get"]["responses"]
    assert {"404", "410", "422"} <= set(session)
    assert set(doc["paths"]["/api/v1/health"]["get"]["responses"]) == {"200", "413", "429", "500"}
    for path, method, op in operations(doc):
        assert op["responses"]["200"]["content"]["application/json"]["schema"], f"{method} {path}: no response model"


def test_swagger_ui_serves_its_assets_itself(stack):
    status, page = stack.http("GET", "/api/v1/docs")
    assert status == 200 and "SwaggerUIBundle" in page
    assert "cdn" not in page.split("<script>", 1)[0].lower(), "Swagger UI would load its assets from a CDN"


def test_swagger_ui_runs_only_its_own_scripts_and_cannot_be_framed(stack):
    # Given the docs page (it keeps a token in the browser: persistAuthorization)
    with urllib.request.urlopen(f"{stack.base}/api/v1/docs", timeout=10) as response:
        headers, page = response.headers, response.read().decode()
    # Then only its inline scripts run, by hash; no other origin, no frame, no sniffing
    policy = headers["Content-Security-Policy"]
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) >= 2
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"]) == ("DENY", "nosniff")

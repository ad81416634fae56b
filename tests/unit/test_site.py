"""deploy.site without AWS: config.json from the stack outputs, the published layout, samconfig environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy import site
from local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DESCRIBE_STACKS = ROOT / "events" / "describe_stacks.json"


def sample_outputs() -> dict[str, str]:
    return site.stack_outputs(json.loads(DESCRIBE_STACKS.read_text()))


def test_config_json_names_the_stacks_websocket_and_http_api():
    # Given a stack's DescribeStacks answer
    outputs = sample_outputs()

    # When config.json is made from it
    config = site.config_from_outputs(outputs)

    # Then the pages learn exactly the two URLs, as the stack outputs them
    assert config == {
        "wsUrl": "wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev",
        "apiUrl": "https://f6g7h8i9j0.execute-api.us-east-1.amazonaws.com/dev/api/v1",
    }


def test_every_output_the_deploy_reads_is_one_the_template_declares():
    # Given the outputs deploy.site reads and the sample answer the tests use
    read = {"WebSocketUrl", "HttpApiUrl", "WebBucketName", "WebDistributionId", "WebUrl"}
    declared = set(load_template()["Outputs"])

    # Then the template declares them all, and the sample holds nothing the template does not output
    assert read <= declared, read - declared
    assert set(sample_outputs()) <= declared, set(sample_outputs()) - declared


@pytest.mark.parametrize(
    ("ws", "api"),
    [
        ("https://x.example/dev", "https://x.example/api/v1"),
        ("wss://x.example/dev", "ftp://x.example/api/v1"),
        ("wss:///dev", "https://x.example/api/v1"),
        ("javascript:alert(1)", "https://x.example/api/v1"),
    ],
)
def test_a_url_of_the_wrong_kind_stops_the_deploy(ws, api):
    with pytest.raises(site.DeployError):
        site.site_config(ws, api)


def test_a_stack_without_the_outputs_stops_the_deploy():
    with pytest.raises(site.DeployError, match="HttpApiUrl"):
        site.config_from_outputs({"WebSocketUrl": "wss://x.example/dev"})
    with pytest.raises(site.DeployError, match="one stack"):
        site.stack_outputs({"Stacks": []})


def test_the_site_has_the_layout_the_local_stack_serves(tmp_path):
    # Given a web/ directory like the project's
    (tmp_path / "chat").mkdir()
    for name, text in {
        "index.html": "<!doctype html>chat",
        "console.html": "<!doctype html>console",
        "shared.js": "export {}",
        "base.css": "body{}",
        "chat/socket.js": "export {}",
    }.items():
        (tmp_path / name).write_text(text)

    # When the site's objects are made
    objects = {o.key: o for o in site.site_objects({"wsUrl": "wss://w", "apiUrl": "https://a"}, tmp_path)}

    # Then the pages are at the root (index.html is CloudFront's default root object, console is /console), the rest
    # under static/, and config.json beside the pages; pages and config revalidate, modules cache briefly
    assert set(objects) == {
        "index.html",
        "console",
        "static/shared.js",
        "static/base.css",
        "static/chat/socket.js",
        "config.json",
    }
    assert objects["console"].body == b"<!doctype html>console"
    assert objects["console"].content_type == "text/html; charset=utf-8"
    assert objects["static/chat/socket.js"].content_type == "text/javascript; charset=utf-8"
    assert objects["static/base.css"].content_type == "text/css; charset=utf-8"
    assert json.loads(objects["config.json"].body) == {"wsUrl": "wss://w", "apiUrl": "https://a"}
    assert {objects[k].cache_control for k in ("index.html", "console", "config.json")} == {"no-cache"}
    assert objects["static/shared.js"].cache_control.startswith("public, max-age=")


def test_config_command_prints_config_json_from_a_saved_answer(capsys):
    # When `python -m deploy.site config --outputs events/describe_stacks.json` runs
    site.main(["config", "--outputs", str(DESCRIBE_STACKS)])

    # Then it prints the config.json the pages would get
    assert json.loads(capsys.readouterr().out) == site.config_from_outputs(sample_outputs())


@pytest.mark.parametrize(
    ("env", "stack", "region"),
    [("default", "smart-support-dev", "us-east-1"), ("prod", "smart-support-prod", "us-east-1")],
)
def test_stack_and_region_come_from_samconfig(env, stack, region):
    assert site.samconfig_stack(env) == (stack, region)


def test_an_unknown_samconfig_environment_stops_the_deploy():
    with pytest.raises(site.DeployError, match="staging"):
        site.samconfig_stack("staging")

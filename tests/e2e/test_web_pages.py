"""The published site's layout is the local stack's: what make deploy uploads is served at the same paths here."""

from __future__ import annotations

import json
import urllib.request

import pytest

from deploy import site
from local.web import local_site_config

pytestmark = pytest.mark.e2e


def test_every_object_make_deploy_publishes_is_served_at_the_same_path_locally(stack):
    # Given the objects make deploy would publish, with the config.json the local stack serves (guests allowed)
    host = f"127.0.0.1:{stack.port}"
    objects = site.site_objects(local_site_config(host, guests=True))

    for item in objects:
        # When the local stack is asked for that object's path (index.html is CloudFront's default root object)
        path = "/" if item.key == "index.html" else f"/{item.key}"
        with urllib.request.urlopen(f"{stack.base}{path}", timeout=10) as response:
            body, content_type = response.read(), response.headers["Content-Type"]

        # Then it serves the same bytes, as the same kind of content
        assert json.loads(body) == json.loads(item.body) if item.key == site.CONFIG_KEY else body == item.body, path
        assert content_type.split(";")[0] == item.content_type.split(";")[0], path

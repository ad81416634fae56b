"""`make deploy`'s publishing step against moto's S3 and CloudFront, CloudFormation's answer checked by botocore."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from deploy import site

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "smart-support-dev-webbucket-1a2b3c4d5e6f"


@pytest.fixture
def web_aws(aws: None) -> dict[str, Any]:
    """The stack's web bucket and distribution on moto."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "stack",
            "Comment": "web",
            "Enabled": True,
            "DefaultRootObject": "index.html",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "web",
                        "DomainName": f"{BUCKET}.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )
    return {"s3": s3, "cloudfront": cloudfront, "distribution_id": distribution["Distribution"]["Id"]}


def stack_answer(distribution_id: str) -> dict[str, Any]:
    """The sample DescribeStacks answer, pointing at the moto distribution."""
    answer = json.loads((ROOT / "events" / "describe_stacks.json").read_text())
    stack = answer["Stacks"][0]
    stack["CreationTime"] = datetime(2026, 12, 1, tzinfo=UTC)
    for output in stack["Outputs"]:
        if output["OutputKey"] == "WebDistributionId":
            output["OutputValue"] = distribution_id
    return answer


def test_publish_uploads_the_site_removes_what_web_no_longer_has_and_invalidates(web_aws):
    # Given a bucket holding an earlier deploy's file that web/ no longer has
    s3, cloudfront = web_aws["s3"], web_aws["cloudfront"]
    s3.put_object(Bucket=BUCKET, Key="static/old-module.js", Body=b"gone")
    objects = site.site_objects(site.site_config("wss://w.example/dev", "https://a.example/dev/api/v1"))

    # When the site is published
    done = site.publish(s3, cloudfront, BUCKET, web_aws["distribution_id"], objects)

    # Then every object is there with its type and caching, the stale one is gone, and every path is invalidated
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {o.key for o in objects}
    assert {"index.html", "console", "config.json", "static/chat.js", "static/shared.js"} <= keys
    page = s3.get_object(Bucket=BUCKET, Key="console")
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["CacheControl"] == "no-cache"
    assert page["Body"].read() == (ROOT / "web" / "console.html").read_bytes()
    assert s3.head_object(Bucket=BUCKET, Key="static/chat.js")["ContentType"] == "text/javascript; charset=utf-8"
    config = json.loads(s3.get_object(Bucket=BUCKET, Key="config.json")["Body"].read())
    assert config == {"wsUrl": "wss://w.example/dev", "apiUrl": "https://a.example/dev/api/v1"}
    assert done["deleted"] == ["static/old-module.js"]
    invalidation = cloudfront.get_invalidation(DistributionId=web_aws["distribution_id"], Id=done["invalidation"])
    assert invalidation["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


def test_publish_command_reads_the_stack_outputs_and_publishes(web_aws, capsys):
    # Given the stack's outputs, as CloudFormation answers DescribeStacks for samconfig's dev stack
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(cloudformation)
    stubber.add_response(
        "describe_stacks", stack_answer(web_aws["distribution_id"]), {"StackName": "smart-support-dev"}
    )
    clients = {"cloudformation": cloudformation, "s3": web_aws["s3"], "cloudfront": web_aws["cloudfront"]}

    class Session:
        def client(self, name: str) -> Any:
            return clients[name]

    # When `python -m deploy.site publish` runs (what make deploy runs after sam deploy)
    with stubber:
        site.main(["publish"], session=Session())

    # Then config.json holds the stack's URLs and the pages are published
    config = json.loads(web_aws["s3"].get_object(Bucket=BUCKET, Key="config.json")["Body"].read())
    assert config["wsUrl"] == "wss://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev"
    assert config["apiUrl"] == "https://f6g7h8i9j0.execute-api.us-east-1.amazonaws.com/dev/api/v1"
    assert web_aws["s3"].head_object(Bucket=BUCKET, Key="index.html")["ContentType"].startswith("text/html")
    assert "https://d1a2b3c4d5e6f7.cloudfront.net/console" in capsys.readouterr().out
    stubber.assert_no_pending_responses()

"""The help center in AWS, on moto S3: articles under articles/ are re-indexed by the ingest function, and the agent
answers from the new index within a minute, without a redeploy."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from local.lambdas import LocalFunction
from local.template import ROOT
from smart_support import services
from smart_support.knowledge.index import HelpCenterIndex
from smart_support.knowledge.ingest import DIGEST_METADATA, S3Ingest
from smart_support.knowledge.source import SHIPPED_INDEX, FileSource, HelpCenter, S3Source
from smart_support.settings import load_settings

BUCKET = "smart-support-dev-knowledge"
INDEX = "index/help-center.sqlite"
GIFT_WRAP = b"""---
title: Gift wrapping
url: https://help.example-store.com/articles/gift-wrapping
---
We gift-wrap any order for $4.95 in recycled paper with a ribbon; tick "Gift wrap" at checkout.
"""


@pytest.fixture
def s3(aws) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    for path in sorted((ROOT / "kb").iterdir()):
        client.put_object(Bucket=BUCKET, Key=f"articles/{path.name}", Body=path.read_bytes())
    return client


def event(key: str, detail_type: str = "Object Created") -> dict[str, Any]:
    """What EventBridge delivers for an S3 object event."""
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": detail_type,
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key}},
    }


@pytest.fixture
def handler(s3, monkeypatch):
    monkeypatch.setenv("KNOWLEDGE_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SmartSupport")
    load_settings.cache_clear()
    services.knowledge_ingest.cache_clear()
    function = LocalFunction(
        "KnowledgeIngestFunction", "functions/knowledge_ingest", "app.lambda_handler", 1024, 300, {}
    )

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        result, error = function.invoke(payload)
        assert error is None, error
        return dict(result)

    yield invoke
    load_settings.cache_clear()
    services.knowledge_ingest.cache_clear()


def test_the_ingest_function_indexes_the_articles_once_and_skips_a_run_with_nothing_new(handler, s3):
    # When an article's upload triggers the function
    first = handler(event("articles/returns-policy.md"))

    # Then the index of every article is written beside them, with the listing it was built from
    assert (first["articles"], first["written"], first["rejected"]) == (36, True, [])
    head = s3.head_object(Bucket=BUCKET, Key=INDEX)
    assert head["Metadata"][DIGEST_METADATA] == first["source"]
    index = HelpCenterIndex(s3.get_object(Bucket=BUCKET, Key=INDEX)["Body"].read())
    shipped = HelpCenterIndex(SHIPPED_INDEX.read_bytes())
    assert index.passages() == shipped.passages()  # the same articles make the same index as `make kb-ingest`

    # And the other events of the same upload find it up to date and write nothing
    again = handler(event("articles/warranty.md"))
    assert (again["written"], again["articles"]) == (False, 36)
    assert s3.head_object(Bucket=BUCKET, Key=INDEX)["ETag"] == head["ETag"]


def test_the_agent_answers_from_a_new_article_within_a_minute_and_forgets_a_deleted_one(handler, s3):
    # Given the agent's help center: the S3 index (none yet), else the shipped one; a clock the test moves
    now = [1000.0]
    center = HelpCenter([S3Source(BUCKET, s3=s3), FileSource(SHIPPED_INDEX)], check_seconds=60, clock=lambda: now[0])
    assert center.search("Do you gift-wrap orders?") == []  # the shipped index has no such article

    # When a gift-wrapping article is uploaded and the ingest runs
    s3.put_object(Bucket=BUCKET, Key="articles/gift-wrapping.md", Body=GIFT_WRAP)
    assert handler(event("articles/gift-wrapping.md"))["written"]
    now[0] += 61

    # Then the running agent finds it (no redeploy) and cites its URL
    (hit,) = center.search("Do you gift-wrap orders?")
    assert hit.url == "https://help.example-store.com/articles/gift-wrapping"
    assert "$4.95" in hit.text

    # When it is deleted
    s3.delete_object(Bucket=BUCKET, Key="articles/gift-wrapping.md")
    assert handler(event("articles/gift-wrapping.md", "Object Deleted"))["articles"] == 36
    now[0] += 61

    # Then it is gone from the answers
    assert center.search("Do you gift-wrap orders?") == []


def test_an_article_that_cannot_be_cited_is_left_out_and_reported(handler, s3):
    s3.put_object(Bucket=BUCKET, Key="articles/no-link.md", Body=b"---\ntitle: No link\n---\nSome text.\n")
    s3.put_object(Bucket=BUCKET, Key="articles/notes.txt", Body=b"not an article")  # not Markdown or HTML: ignored
    result = handler(event("articles/no-link.md"))
    assert result["articles"] == 36
    assert result["rejected"] == ["no-link.md: no http(s) URL (front matter `url:`, or a canonical link)"]


def test_two_overlapping_runs_never_leave_the_older_listing_last(s3):
    # Given a run that reads the listing, and, while it builds, another run writes an index of a newer listing
    class Overtaken(S3Ingest):
        overtaken = False

        def _download(self, keys: list[str]) -> list[tuple[str, bytes]]:
            if not self.overtaken:
                self.overtaken = True
                s3.put_object(Bucket=BUCKET, Key="articles/gift-wrapping.md", Body=GIFT_WRAP)
                assert S3Ingest(BUCKET, s3=s3).run().written
            return super()._download(keys)

    # When the first run comes to write
    result = Overtaken(BUCKET, s3=s3).run()

    # Then its conditional write failed, it listed again and found the newer index up to date (nothing older wins)
    assert result.written is False and result.articles == 37
    index = HelpCenterIndex(s3.get_object(Bucket=BUCKET, Key=INDEX)["Body"].read())
    assert index.search("gift-wrap")


def test_an_agent_that_may_not_read_the_index_keeps_answering_from_the_shipped_one(s3):
    # Given S3 refuses the agent (a mis-scoped policy, or a bucket of another account)
    class Refusing:
        def head_object(self, **kwargs: Any) -> dict[str, Any]:
            raise s3.exceptions.ClientError(
                {"Error": {"Code": "403", "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "HeadObject",
            )

    center = HelpCenter([S3Source(BUCKET, s3=Refusing()), FileSource(SHIPPED_INDEX)])

    # Then the customer still gets answers (and the error is logged, not swallowed silently)
    assert center.search("Do you accept PayPal?")

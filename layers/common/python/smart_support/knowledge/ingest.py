"""Building the index from a folder of articles (`make kb-ingest DIR=...`) or from an S3 prefix (the ingest function,
run when an article under the prefix is created or deleted).

The S3 job reads the listing first: the index records a digest of the listing (keys and ETags), so a burst of
uploads (each one an event) builds once and the other runs find nothing changed. It writes the new index with a
conditional PutObject (If-Match the index it read, or If-None-Match when there was none): two runs that overlap
cannot leave the older listing's index last; the loser starts again from a fresh listing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from smart_support import aws
from smart_support.knowledge.articles import Article, ArticleError, is_article, parse_article, source_digest
from smart_support.knowledge.index import build_index
from smart_support.knowledge.source import DEFAULT_INDEX_KEY

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "articles/"
MAX_ARTICLES = 20_000
DIGEST_METADATA = "source-digest"  # x-amz-meta-source-digest on the index object
ATTEMPTS = 3
DOWNLOAD_THREADS = 16


@dataclass
class IngestResult:
    """What one ingest did."""

    articles: int = 0
    rejected: list[str] = field(default_factory=list)  # "name: reason", one an article left out
    bytes: int = 0
    written: bool = False  # False: the index already matched the articles (or the folder run wrote nothing)
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For logs and the function's result."""
        return asdict(self)


def parse_all(files: Iterable[tuple[str, bytes]]) -> tuple[list[Article], list[str]]:
    """The articles among `files` that parse, and a line for each one that does not. Two files with the same slug
    (name without its suffix) would be one article twice: the second is rejected."""
    articles: dict[str, Article] = {}
    rejected = []
    for name, data in files:
        try:
            article = parse_article(name, data)
        except ArticleError as exc:
            rejected.append(str(exc))
            continue
        if article.slug in articles:
            rejected.append(f"{name}: another article is named {article.slug!r}")
            continue
        articles[article.slug] = article
    return list(articles.values()), rejected


def read_directory(directory: Path) -> list[tuple[str, bytes]]:
    """Every Markdown and HTML file under `directory` (path relative to it, bytes), in name order."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and is_article(p.name))
    return [(p.relative_to(directory).as_posix(), p.read_bytes()) for p in files]


def ingest_directory(directory: Path, output: Path) -> IngestResult:
    """Build the index of the articles under `directory` into `output` (replaced atomically)."""
    files = read_directory(directory)
    articles, rejected = parse_all(files)
    digest = source_digest(files)
    data = build_index(articles, source=digest)
    partial = output.with_name(f".{output.name}.tmp")
    partial.write_bytes(data)
    partial.replace(output)
    return IngestResult(len(articles), rejected, len(data), True, digest)


class S3Ingest:
    """Re-index the articles under `prefix` of `bucket` into `index_key` of the same bucket."""

    def __init__(
        self, bucket: str, prefix: str = DEFAULT_PREFIX, index_key: str = DEFAULT_INDEX_KEY, s3: Any = None
    ) -> None:
        self.s3 = s3 or aws.client("s3")
        self.bucket = bucket
        self.prefix = prefix
        self.index_key = index_key

    def run(self) -> IngestResult:
        """Build and write the index unless it already matches the listing; retried when another run wrote first."""
        for attempt in range(1, ATTEMPTS + 1):
            listing = self._listing()
            digest = source_digest((key, etag.encode()) for key, etag in listing)
            current_etag, current_digest = self._current()
            if current_digest == digest:
                return IngestResult(articles=len(listing), source=digest)
            articles, rejected = parse_all(self._download([key for key, _ in listing]))
            data = build_index(articles, source=digest, built_at=time.time())
            result = IngestResult(len(articles), rejected, len(data), False, digest)
            if self._put(data, digest, current_etag):
                result.written = True
                return result
            logger.info("another ingest wrote the index first (attempt %d); listing again", attempt)
        raise RuntimeError(f"the index changed under every one of {ATTEMPTS} attempts")

    def _listing(self) -> list[tuple[str, str]]:
        """(key, ETag) of every article object under the prefix, in key order."""
        found = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                if is_article(item["Key"]):
                    found.append((str(item["Key"]), str(item["ETag"])))
        if len(found) > MAX_ARTICLES:
            raise ValueError(f"{len(found)} articles under s3://{self.bucket}/{self.prefix}: at most {MAX_ARTICLES}")
        return sorted(found)

    def _current(self) -> tuple[str | None, str | None]:
        """The index object's ETag and the listing digest it was built from (None, None: no index yet)."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.index_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None, None
            raise
        return str(head["ETag"]), head.get("Metadata", {}).get(DIGEST_METADATA)

    def _download(self, keys: list[str]) -> list[tuple[str, bytes]]:
        def get(key: str) -> tuple[str, bytes]:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return key.removeprefix(self.prefix), body

        with ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS) as pool:
            return list(pool.map(get, keys))

    def _put(self, data: bytes, digest: str, expected_etag: str | None) -> bool:
        """Write the index only over the one this run read; False when another run replaced it meanwhile."""
        condition = {"IfMatch": expected_etag} if expected_etag else {"IfNoneMatch": "*"}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self.index_key,
                Body=data,
                ContentType="application/vnd.sqlite3",
                Metadata={DIGEST_METADATA: digest},
                **condition,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

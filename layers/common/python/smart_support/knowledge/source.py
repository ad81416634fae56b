"""Where the agent finds the current help-center index, and how it notices a new one without a redeploy.

Sources, in order: the S3 object the ingest function writes (`KNOWLEDGE_BUCKET` / `KNOWLEDGE_INDEX_KEY`), when it
exists; else a file (`KNOWLEDGE_INDEX_PATH`, by default the index shipped in this package, built from kb/ by
`make kb-ingest`). A source names its current version cheaply (the object's ETag from a HeadObject, the file's size
and modification time); the help center asks at most once every `check_seconds` (60 by default) and loads the
index only when the version changed. A source that fails is logged and skipped: the agent answers from the next
one (or keeps the index it has) rather than failing the customer's turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from smart_support import aws
from smart_support.knowledge.index import HelpCenterIndex, Hit, InvalidIndex

logger = logging.getLogger(__name__)

SHIPPED_INDEX = Path(__file__).with_name("help-center.sqlite")
DEFAULT_INDEX_KEY = "index/help-center.sqlite"
CHECK_SECONDS = 60


class IndexSource(Protocol):
    """Somewhere an index may be."""

    def version(self) -> str | None:
        """The current index's version (cheap to ask), None when there is none here."""

    def read(self) -> tuple[bytes, str]:
        """The index's bytes and their version."""

    def describe(self) -> str:
        """Where, for logs."""


class FileSource:
    """An index file (the shipped one, or one `make kb-ingest` wrote)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def version(self) -> str | None:
        """Size and modification time: a rewritten file is a new version."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def read(self) -> tuple[bytes, str]:
        """The file's bytes (the version is taken first: a file replaced meanwhile is read again next time)."""
        version = self.version() or ""
        return self.path.read_bytes(), version

    def describe(self) -> str:
        """The path."""
        return str(self.path)


class S3Source:
    """The index the ingest function writes to S3 (HeadObject for the ETag, GetObject when it changed)."""

    def __init__(self, bucket: str, key: str = DEFAULT_INDEX_KEY, s3: Any = None) -> None:
        self.s3 = s3 or aws.client("s3")
        self.bucket = bucket
        self.key = key

    def version(self) -> str | None:
        """The object's ETag; None while nothing was ingested (404)."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return str(head["ETag"])

    def read(self) -> tuple[bytes, str]:
        """The object's bytes and ETag (the ETag of what was read, whatever changed after the HeadObject)."""
        got = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        return got["Body"].read(), str(got["ETag"])

    def describe(self) -> str:
        """s3://bucket/key."""
        return f"s3://{self.bucket}/{self.key}"


def shipped_help_center() -> HelpCenter:
    """The index shipped in this package, alone (tests, and graphs built without settings)."""
    return HelpCenter([FileSource(SHIPPED_INDEX)])


class HelpCenter:
    """The current index of the first source that has one, refreshed at most every `check_seconds`."""

    def __init__(
        self,
        sources: Sequence[IndexSource],
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.time,  # wall time: a SnapStart restore must not look like "just checked"
    ) -> None:
        self.sources = list(sources)
        self.check_seconds = check_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._index: HelpCenterIndex | None = None
        self._source: IndexSource | None = None
        self._checked_at: float | None = None

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        """The passages that answer `query` in the current index (none when there is no index at all)."""
        index = self.current()
        return index.search(query, limit) if index else []

    def current(self) -> HelpCenterIndex | None:
        """The index to answer from now (checking for a new one when `check_seconds` passed)."""
        now = self.clock()
        with self._lock:
            if self._checked_at is None or not 0 <= now - self._checked_at < self.check_seconds:
                self._refresh()
                self._checked_at = now if self._index is not None else None  # none yet: try again next time
            return self._index

    def _refresh(self) -> None:
        """Load the first source's index if its version changed. A source that fails is skipped only while there is
        no index yet: a transient S3 error never swaps a customer's help center for the shipped demo one."""
        for source in self.sources:
            try:
                version = source.version()
                if version is None:
                    continue
                if source is self._source and self._index is not None and version == self._index.version:
                    return
                data, version = source.read()
                index = HelpCenterIndex(data, version)
            except (OSError, ClientError, BotoCoreError, InvalidIndex):
                logger.exception("help-center index unavailable from %s", source.describe())
                if self._index is not None:
                    return
                continue
            # The old index is left to the garbage collector: a search may still be running on it.
            self._index, self._source = index, source
            logger.info("help-center index loaded from %s: %s", source.describe(), index.describe())
            return
        if self._index is None:
            logger.error("no help-center index in %s", [s.describe() for s in self.sources])

"""Where the agent's help center comes from: the first source with an index, checked at most once a minute."""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from smart_support.knowledge.articles import parse_article
from smart_support.knowledge.index import build_index
from smart_support.knowledge.source import FileSource, HelpCenter


def index_of(title: str) -> bytes:
    text = f"---\ntitle: {title}\nurl: https://h.test/{title.lower()}\n---\nAll about {title.lower()} here.\n"
    return build_index([parse_article(f"{title}.md", text.encode())])


class FakeSource:
    """An index source whose version and failures a test sets."""

    def __init__(self, data: bytes | None = None, version: str = "v1") -> None:
        self.data = data
        self.version_ = version
        self.failing: Exception | None = None
        self.asked = 0
        self.reads = 0

    def version(self) -> str | None:
        self.asked += 1
        if self.failing:
            raise self.failing
        return self.version_ if self.data is not None else None

    def read(self) -> tuple[bytes, str]:
        self.reads += 1
        assert self.data is not None
        return self.data, self.version_

    def describe(self) -> str:
        return "fake"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


THROTTLED = ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "HeadObject")


def test_the_first_source_with_an_index_answers():
    # Given no ingested index yet (S3 has none) and the shipped one
    s3, shipped = FakeSource(None), FakeSource(index_of("Shipping"))
    center = HelpCenter([s3, shipped], clock=Clock())

    # When a question is searched
    # Then the shipped index answers
    assert [h.title for h in center.search("shipping")] == ["Shipping"]


def test_a_new_index_is_picked_up_within_a_minute_and_never_asked_for_more_often():
    # Given the agent answers from the ingested index
    clock = Clock()
    s3 = FakeSource(index_of("Returns"), "etag-1")
    center = HelpCenter([s3, FakeSource(index_of("Shipping"))], check_seconds=60, clock=clock)
    assert center.search("returns")

    # When the ingest function writes a new one, and questions keep coming
    s3.data, s3.version_ = index_of("Warranty"), "etag-2"
    for _ in range(5):
        clock.now += 10
        assert center.search("returns")  # still the old one: not a minute yet
    clock.now += 11

    # Then a minute after the last check the new index answers, read once, and the version was asked twice in all
    assert center.search("warranty") and not center.search("returns")
    assert (s3.asked, s3.reads) == (2, 2)


def test_an_unchanged_index_is_not_read_again():
    clock = Clock()
    s3 = FakeSource(index_of("Returns"), "etag-1")
    center = HelpCenter([s3], clock=clock)
    for _ in range(3):
        center.search("returns")
        clock.now += 61
    assert (s3.asked, s3.reads) == (3, 1)


def test_a_failing_source_never_replaces_the_current_index_with_the_next_one():
    # Given the agent answers from the ingested index
    clock = Clock()
    s3, shipped = FakeSource(index_of("Returns"), "etag-1"), FakeSource(index_of("Shipping"))
    center = HelpCenter([s3, shipped], clock=clock)
    assert center.search("returns")

    # When S3 throttles the next check
    s3.failing = THROTTLED
    clock.now += 61

    # Then the ingested index keeps answering (the demo one would be wrong for this shop)
    assert center.search("returns") and not center.search("shipping")
    assert shipped.reads == 0


def test_with_no_index_yet_a_failing_source_is_skipped_and_retried_next_time():
    # Given S3 fails on the first question
    clock = Clock()
    s3, shipped = FakeSource(index_of("Returns"), "etag-1"), FakeSource(index_of("Shipping"))
    s3.failing = THROTTLED
    center = HelpCenter([s3, shipped], clock=clock)

    # Then the shipped index answers meanwhile, and the ingested one once S3 answers again
    assert center.search("shipping")
    s3.failing = None
    clock.now += 61
    assert center.search("returns")


def test_no_index_anywhere_answers_nothing_and_asks_again_at_the_next_question():
    missing = FakeSource(None)
    center = HelpCenter([missing], clock=Clock())
    assert center.search("returns") == []
    assert center.search("returns") == []
    assert missing.asked == 2


def test_a_clock_that_went_back_checks_again():
    # Given a check in the future of the clock (a SnapStart snapshot restored on another host)
    clock = Clock()
    s3 = FakeSource(index_of("Returns"), "etag-1")
    center = HelpCenter([s3], clock=clock)
    center.search("returns")
    clock.now -= 3600

    # When a question comes
    center.search("returns")

    # Then the index is checked rather than trusted for an hour
    assert s3.asked == 2


def test_a_rewritten_file_is_a_new_version(tmp_path):
    # Given an index file `make kb-ingest` wrote
    path = tmp_path / "index.sqlite"
    path.write_bytes(index_of("Returns"))
    clock = Clock()
    center = HelpCenter([FileSource(path)], clock=clock)
    assert center.search("returns")

    # When it is rebuilt from other articles
    path.write_bytes(index_of("Warranty"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # a coarse clock's twin write
    clock.now += 61

    # Then the running agent answers from the new one
    assert center.search("warranty")
    assert FileSource(tmp_path / "missing.sqlite").version() is None

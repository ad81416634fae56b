"""Per-principal token buckets on moto: a burst up to the limit passes, then the bucket refills at its rate."""

from __future__ import annotations

import threading

import pytest

from smart_support.store.ratelimit import RateLimiter


@pytest.fixture
def limiter(dynamodb) -> RateLimiter:
    return RateLimiter("ConversationsTable", dynamodb)


def test_a_burst_passes_then_the_bucket_is_empty_until_it_refills(limiter):
    # Given a bucket of 10 per second, at t=1000
    allowed = [limiter.allow("c-1", "frames", 10, 10, now=1000.0) for _ in range(12)]
    # Then the first 10 pass, the rest are refused
    assert allowed == [True] * 10 + [False] * 2
    # And 0.1 s later one more token is there, a second later the whole burst again
    assert limiter.allow("c-1", "frames", 10, 10, now=1000.1) is True
    assert limiter.allow("c-1", "frames", 10, 10, now=1000.15) is False
    assert sum(limiter.allow("c-1", "frames", 10, 10, now=1002.0) for _ in range(12)) == 10


def test_buckets_are_per_principal_and_kind(limiter):
    for _ in range(3):
        limiter.allow("c-1", "turns", 3 / 60, 3, now=5000.0)
    assert limiter.allow("c-1", "turns", 3 / 60, 3, now=5001.0) is False
    assert limiter.allow("c-2", "turns", 3 / 60, 3, now=5001.0) is True
    assert limiter.allow("c-1", "frames", 10, 10, now=5001.0) is True
    # 20 s later (3 a minute) one turn is back
    assert limiter.allow("c-1", "turns", 3 / 60, 3, now=5021.0) is True


def test_concurrent_requests_never_take_more_than_the_bucket_holds(limiter):
    # Given 40 requests at the same instant from many threads (many Lambdas)
    results: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        ok = limiter.allow("c-race", "frames", 5, 5, now=9000.0)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=take) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then at most the burst passed
    assert 1 <= sum(results) <= 5

"""The transcript on moto: one item per agent run, replayed in pages (limit, cursor, next_cursor)."""

import pytest

from smart_support.protocol.errors import ValidationFailed
from smart_support.store.transcript import TranscriptEntry, TranscriptStore, encode_cursor, segment_item

TABLE = "ConversationsTable"
NOW = 1_800_000_000.0


@pytest.fixture
def transcript(dynamodb) -> TranscriptStore:
    # Given a thread of 30 turns (a user message, an answer and a decision each) and a segment past its TTL
    for turn in range(1, 31):
        entries: list[TranscriptEntry] = [
            {"role": "user", "content": f"q{turn}"},
            {"role": "assistant", "content": f"a{turn}"},
        ]
        entries.append({"role": "decision", "content": f"d{turn}"})
        dynamodb.put_item(TableName=TABLE, Item=segment_item("t-page", turn, turn * 1000, entries, NOW))
    expired = segment_item("t-page", 31, 31_000, [{"role": "user", "content": "old"}], NOW - 40 * 24 * 3600)
    dynamodb.put_item(TableName=TABLE, Item=expired)
    return TranscriptStore(TABLE, dynamodb=dynamodb)


def test_pages_follow_next_cursor_to_the_end_in_order(transcript):
    # When the replay is read 7 entries at a time
    pages, cursor = [], None
    while True:
        entries, cursor = transcript.page("t-page", NOW, limit=7, cursor=cursor)
        pages.append(entries)
        if cursor is None:
            break

    # Then every live entry comes exactly once, oldest first, in full pages until the last
    contents = [entry["content"] for page in pages for entry in page]
    assert contents == [f"{kind}{turn}" for turn in range(1, 31) for kind in ("q", "a", "d")]
    assert [len(page) for page in pages] == [7] * 12 + [6]
    assert pages[0][0]["turn"] == 1


def test_a_page_that_ends_with_the_transcript_has_no_cursor(transcript):
    # When the page is exactly as long as the transcript
    entries, cursor = transcript.page("t-page", NOW, limit=90)

    # Then there is nothing left to fetch
    assert len(entries) == 90 and cursor is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor("SESSION", 0), "W10"])
def test_a_forged_cursor_is_a_validation_error(transcript, cursor):
    # When a cursor that no page produced is sent
    # Then it is refused as invalid, naming the field
    with pytest.raises(ValidationFailed, match="cursor"):
        transcript.page("t-page", NOW, cursor=cursor)

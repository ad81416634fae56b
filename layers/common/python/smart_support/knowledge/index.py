"""The help center's search index: one SQLite database (an FTS5 table of passages, ranked by BM25), built in memory,
shipped or stored as bytes, and opened in memory (`deserialize`: no file stays open, nothing is written at run time).

Ranking: FTS5's `bm25()` over the passage's title, section heading and text (weighted 4 : 2 : 1), then coverage:
the share of the question's weight a passage holds, each content word weighted by its inverse document frequency (a
word no passage has weighs the most: it is what the help center does not cover). BM25 alone ranks a short passage
that shares one common word with the question above one that answers it, and never says "none of these": a passage
is returned only when it holds at least `MIN_COVERAGE` of the question's weight, and passages are ordered by BM25
times coverage squared, an article's opening passage (its summary) counting `LEAD_BOOST` times; those ranked less
than half as well as the best are left out (the answer cites what search returned: no padding). "Do you have a
store in Paris?" shares no content word with any passage ("store" is a stopword here), so nothing is returned and
the agent says it doesn't know. The figures (hit@3 on a labelled set, latency, size) are in docs/performance.md.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the agent only searches: parsing articles (html.parser, ...) is the ingest's, imported there
    from smart_support.knowledge.articles import Article

FORMAT = "smart-support-help-center/1"
TOKENIZER = "porter unicode61 remove_diacritics 2"
WEIGHTS = (4.0, 2.0, 1.0)  # title, section, text
MIN_COVERAGE = 0.4
COVERAGE_POWER = 2
LEAD_BOOST = 1.5
RELATIVE_CUTOFF = 0.5  # a passage ranked less than half as well as the best one is noise next to it
# A word in more than this share of a large help center's passages ranks nothing (it is nearly a stopword there) but
# costs a BM25 score for each of them: it is left out of the ranking query, never out of the coverage.
COMMON_SHARE, COMMON_MIN_PASSAGES = 0.2, 1000
CANDIDATES = 30  # BM25's best passages that the coverage check looks at
MAX_TERMS = 16
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that carry no topic: function words, question words, and what every question to a shop says.
_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing done down during each either else ever few for from further get gets
    getting got had has have having he her here hers him his how i if in into is it its itself just let me might
    more most much must my no nor not now of off on once only or other our ours out over own please same she should
    so some still such than that the their them then there these they this those through to too under until up us
    very was we were what when where which while who whom why will with would you your yours yourself
    hi hello hey thanks thank okay ok yes
    policy policies rule rules question questions info information detail details help tell know want wanted need
    like would long take takes come comes go goes work works happen happens way ways thing things something anything
    possible allowed able store shop example
    meanwhile anyway anyhow btw actually quick quickly just wondering wonder curious maybe perhaps really also
    again though
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


class InvalidIndex(ValueError):
    """Bytes that are not a help-center index of this format."""


@dataclass(frozen=True)
class Hit:
    """A passage that answers a query, with its article and how well it matched."""

    title: str
    url: str
    section: str
    text: str
    score: float  # BM25 times coverage squared (FTS5's sign: lower is better)
    coverage: float  # the share of the query's weight the passage holds (0..1)


# How customers say what the articles say otherwise: a phrase becomes the articles' word, a word also matches its
# synonyms (all of them count as one word of the question). Small on purpose; embeddings would learn these.
PHRASES = (
    (re.compile(r"\bhow long\b"), " time "),
    (re.compile(r"\bhow much\b"), " cost "),
    (re.compile(r"\bsend(?:ing)? (?:\w+ ){0,2}back\b"), " return "),
    (re.compile(r"\bmoney back\b"), " refund "),
)
SYNONYMS = {
    "time": ("days",),
    "cost": ("price", "fee"),
    "costs": ("price", "fee"),
    "dispatch": ("ship", "leave"),
    "dispatched": ("ship", "leave"),
    "parcel": ("package",),
    "package": ("parcel",),
    "broken": ("damaged", "faulty"),
    "broke": ("damaged", "faulty"),
    "damaged": ("broken",),
    "refunded": ("refund",),
    "exchange": ("swap",),
    "uk": ("countries",),
}


def query_terms(query: str) -> list[str]:
    """The content words of a question, lowercased, in order, without repeats (at most MAX_TERMS)."""
    text = query.lower()
    for pattern, replacement in PHRASES:
        text = pattern.sub(replacement, text)
    words = _WORD.findall(text)
    kept = [w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(kept))[:MAX_TERMS]


def _phrase(term: str) -> str:
    """A query word and its synonyms as an FTS5 expression of quoted strings (never FTS5 syntax, whatever the
    customer typed)."""
    words = (term, *SYNONYMS.get(term, ()))
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


# ---------------------------------------------------------------- building


SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE passages USING fts5(
    title, section, text, url UNINDEXED, slug UNINDEXED, lead UNINDEXED, tokenize='{TOKENIZER}'
);
"""


def build_index(articles: Iterable[Article], source: str = "", built_at: float | None = None) -> bytes:
    """A new index of `articles` as the bytes of a SQLite database; `source` names what it was built from (a
    digest of the article files), kept in its metadata."""
    from smart_support.knowledge.articles import passages

    con = sqlite3.connect(":memory:")
    try:
        con.executescript(SCHEMA)
        count = 0
        rows = []
        for article in sorted(articles, key=lambda a: a.slug):
            count += 1
            rows += [(p.title, p.section, p.text, p.url, p.slug, int(i == 0)) for i, p in enumerate(passages(article))]
        con.executemany("INSERT INTO passages(title, section, text, url, slug, lead) VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.execute("INSERT INTO passages(passages) VALUES ('optimize')")
        meta = {"format": FORMAT, "source": source, "articles": str(count), "passages": str(len(rows))}
        if built_at is not None:  # left out of a folder's build: the same articles give the same bytes
            meta["built_at"] = str(int(built_at))
        con.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", sorted(meta.items()))
        con.commit()
        con.execute("VACUUM")
        return con.serialize()
    finally:
        con.close()


# ---------------------------------------------------------------- searching


class HelpCenterIndex:
    """An index opened from its bytes, searched by any thread (one connection, one lock: a query takes < 1 ms)."""

    def __init__(self, data: bytes, version: str = "") -> None:
        self.version = version  # where it came from (an S3 ETag, a file's size and time)
        self.size = len(data)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            self._con.deserialize(data)
            self.meta = dict(self._con.execute("SELECT key, value FROM meta").fetchall())
            self.passage_count = self._con.execute("SELECT count(*) FROM passages").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self._con.close()
            raise InvalidIndex(f"not a help-center index: {exc}") from exc
        if self.meta.get("format") != FORMAT:
            self._con.close()
            raise InvalidIndex(f"index format {self.meta.get('format')!r}, expected {FORMAT!r}")
        self._df: dict[str, int] = {}

    @cached_property
    def article_count(self) -> int:
        """How many articles the index holds."""
        return int(self.meta.get("articles", "0"))

    def search(self, query: str, limit: int = 3) -> list[Hit]:
        """The best passage of each of the (at most `limit`) articles that answer `query`, best first; empty when
        the help center does not cover it."""
        terms = query_terms(query)
        if not terms or not self.passage_count:
            return []
        with self._lock:
            weights = {t: self._idf(t) for t in terms}
            common = max(COMMON_MIN_PASSAGES, COMMON_SHARE * self.passage_count)
            ranked_by = [t for t in terms if self._df[t] <= common] or terms
            rows = self._con.execute(
                "SELECT rowid, bm25(passages, ?, ?, ?) AS score, title, section, text, url, lead FROM passages "
                "WHERE passages MATCH ? ORDER BY score LIMIT ?",
                (*WEIGHTS, " OR ".join(_phrase(t) for t in ranked_by), CANDIDATES),
            ).fetchall()
            if not rows:
                return []
            total = sum(weights.values())
            holds = self._terms_in([r[0] for r in rows], terms)
        ranked = []
        for rowid, score, title, section, text, url, lead in rows:
            coverage = sum(weights[t] for t in holds.get(rowid, ())) / total
            if coverage >= MIN_COVERAGE:
                rank = score * coverage**COVERAGE_POWER * (LEAD_BOOST if lead else 1.0)  # bm25 < 0: lower is better
                ranked.append((rank, rowid, Hit(title, url, section, text, round(rank, 4), round(coverage, 3))))
        ranked.sort()
        hits: list[Hit] = []
        for rank, _, hit in ranked:
            if rank > ranked[0][0] * RELATIVE_CUTOFF:
                break
            if all(hit.url != h.url for h in hits):  # one passage an article
                hits.append(hit)
        return hits[:limit]

    def _idf(self, term: str) -> float:
        """BM25's inverse document frequency of a term (a term in no passage weighs the most)."""
        if term not in self._df:
            if len(self._df) > 50_000:
                self._df.clear()
            self._df[term] = self._con.execute(
                "SELECT count(*) FROM passages WHERE passages MATCH ?", (_phrase(term),)
            ).fetchone()[0]
        n, df = self.passage_count, self._df[term]
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _terms_in(self, rowids: list[int], terms: list[str]) -> dict[int, set[str]]:
        """Which of `terms` each of the passages holds (the tokenizer's stemming applies)."""
        holds: dict[int, set[str]] = {}
        marks = ",".join("?" * len(rowids))
        for term in terms:
            found = self._con.execute(
                f"SELECT rowid FROM passages WHERE passages MATCH ? AND rowid IN ({marks})",  # noqa: S608 - only ?s
                (_phrase(term), *rowids),
            ).fetchall()
            for (rowid,) in found:
                holds.setdefault(rowid, set()).add(term)
        return holds

    def passages(self) -> list[tuple[str, str, str, str, str]]:
        """Every passage (title, section, text, url, slug), in index order (tests compare indexes by them)."""
        with self._lock:
            return self._con.execute("SELECT title, section, text, url, slug FROM passages ORDER BY rowid").fetchall()

    def describe(self) -> str:
        """One line about the index, for logs."""
        return json.dumps({**self.meta, "bytes": self.size, "version": self.version})

    def close(self) -> None:
        """Release the in-memory database."""
        self._con.close()

"""The help center the knowledge agent answers from: articles (Markdown or HTML with a title and a URL) parsed into
passages, a SQLite FTS5 (BM25) index of them, where the agent finds the current index, and the ingest job that
rebuilds it. Standard library only (sqlite3, html.parser): the ingest function runs on the light layer."""

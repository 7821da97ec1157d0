"""A local document corpus as a search engine: SQLite FTS5 with bm25 ranking.

A folder of .md .txt .rst .html .pdf files is indexed (main text extracted) into one SQLite
file under the data dir, re-indexed incrementally by mtime and size. Search is read-only
and runs in a thread so the event loop never blocks on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from graph.providers.extract import DOCUMENT_SUFFIXES, document_text
from graph.providers.text import terms

REFRESH_SECS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    title, body, content='documents', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER IF NOT EXISTS documents_ad AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts(documents_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
"""
SEARCH_SQL = """
SELECT d.path, d.title, d.body, snippet(documents_fts, 1, '', '', '…', 40) AS snippet,
       bm25(documents_fts, 4.0, 1.0) AS rank
FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid
WHERE documents_fts MATCH :query
ORDER BY rank LIMIT :limit
"""
_FTS_WORD = re.compile(r"[^\W_]+", re.UNICODE)


CORPUS_SCHEME = "corpus://"


def corpus_url(relative_path: str) -> str:
    """A corpus document's stable id: `corpus://<path relative to the corpus folder>`, never a
    server path (those leak the host's layout and mean nothing to a client)."""
    return CORPUS_SCHEME + relative_path


@dataclass(frozen=True)
class CorpusHit:
    path: str  # relative to the corpus folder, POSIX separators
    title: str
    body: str
    snippet: str
    score: float


def index_path_for(corpus_dir: Path, data_dir: Path) -> Path:
    """One index file per corpus folder, under the data dir."""
    key = hashlib.sha1(str(corpus_dir.resolve()).encode()).hexdigest()[:12]
    return data_dir / "corpus-index" / f"{corpus_dir.name}-{key}.sqlite"


def fts_query(text: str) -> str:
    """An FTS5 OR-query of the text's content words, each quoted (no syntax can leak in)."""
    wanted = set(terms(text))
    words = [w for w in dict.fromkeys(_FTS_WORD.findall(text.lower())) if terms(w) and terms(w)[0] in wanted]
    return " OR ".join(f'"{w}"' for w in words)


class CorpusIndex:
    def __init__(self, corpus_dir: Path, index_path: Path):
        self.corpus_dir = corpus_dir.resolve()
        self.index_path = index_path
        self._lock = threading.Lock()
        self._refreshed_at: float | None = None
        self._idle_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []

    def _connect(self) -> sqlite3.Connection:
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.index_path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read connection, reused: opening one per search cost about as much as the search.
        Concurrent searches (they run in worker threads) each take their own; in WAL mode each
        read sees the latest refresh."""
        with self._idle_lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._idle_lock:
                self._idle.append(conn)

    def close(self) -> None:
        """Close the idle read connections (a later search opens a new one)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def refresh(self) -> int:
        """Bring the index up to date with the folder; returns how many files were (re)indexed."""
        with self._lock, contextlib.closing(self._connect()) as conn, conn:
            conn.executescript(SCHEMA)
            known = {
                row[0]: (row[1], row[2]) for row in conn.execute("SELECT path, mtime_ns, size FROM documents")
            }
            present = set()
            changed = 0
            for path in sorted(self.corpus_dir.rglob("*")):
                if not path.is_file() or path.suffix.lower() not in DOCUMENT_SUFFIXES:
                    continue
                rel = path.relative_to(self.corpus_dir).as_posix()
                present.add(rel)
                stat = path.stat()
                if known.get(rel) == (stat.st_mtime_ns, stat.st_size):
                    continue
                try:
                    title, body = document_text(path)
                except Exception:  # an unreadable file is skipped, not fatal to the corpus
                    continue
                conn.execute("DELETE FROM documents WHERE path = ?", (rel,))
                conn.execute(
                    "INSERT INTO documents (path, mtime_ns, size, title, body) VALUES (?, ?, ?, ?, ?)",
                    (rel, stat.st_mtime_ns, stat.st_size, title, body),
                )
                changed += 1
            for rel in set(known) - present:
                conn.execute("DELETE FROM documents WHERE path = ?", (rel,))
            self._refreshed_at = time.monotonic()
            return changed

    def _refresh_if_due(self) -> None:
        """A long-lived index (one per process) looks at the folder again every REFRESH_SECS, so
        files added or changed are found without a restart and a search does not scan each time."""
        if self._refreshed_at is None or time.monotonic() - self._refreshed_at > REFRESH_SECS:
            self.refresh()

    def search(self, query: str, limit: int) -> list[CorpusHit]:
        self._refresh_if_due()
        match = fts_query(query)
        if not match:
            return []
        with self._reading() as conn:
            rows = conn.execute(SEARCH_SQL, {"query": match, "limit": limit}).fetchall()
        return [CorpusHit(path, title, body, snippet, -rank) for path, title, body, snippet, rank in rows]

    def document(self, relative_path: str) -> tuple[str, str] | None:
        """(title, stored text) of an indexed document; only indexed paths answer, so no path
        a caller sends can reach outside the corpus."""
        self._refresh_if_due()
        with self._reading() as conn:
            row = conn.execute(
                "SELECT title, body FROM documents WHERE path = ?", (relative_path,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    async def adocument(self, relative_path: str) -> tuple[str, str] | None:
        return await asyncio.to_thread(self.document, relative_path)

    async def asearch(self, query: str, limit: int) -> list[CorpusHit]:
        return await asyncio.to_thread(self.search, query, limit)

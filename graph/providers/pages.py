"""Where read pages live while a run needs them: outside the graph state, keyed by URL.

Branches put the main text here; the critic reads it back to check quotes. It is a SQLite
file under the data dir so a run resumed after a crash on the same host still finds its pages.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

SCHEMA = "CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL)"


class PageStore:
    def __init__(self, path: Path | None):
        """`path=None` keeps pages in memory (tests, one-shot CLI runs)."""
        self._lock = threading.Lock()
        self._in_memory = path is None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(":memory:" if path is None else path, check_same_thread=False, timeout=30)
        with self._lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(SCHEMA)

    def put(self, url: str, title: str, text: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO pages (url, title, text) VALUES (?, ?, ?)", (url, title, text))

    def get(self, url: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT text FROM pages WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    async def aput(self, url: str, title: str, text: str) -> None:
        if self._in_memory:  # microseconds: a thread hop would cost more than the write
            return self.put(url, title, text)
        await asyncio.to_thread(self.put, url, title, text)

    async def aget(self, url: str) -> str | None:
        if self._in_memory:
            return self.get(url)
        return await asyncio.to_thread(self.get, url)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

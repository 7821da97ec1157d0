"""Where read pages live while a run needs them: outside the graph state, keyed by URL.

Branches put the main text here; the critic reads it back to check quotes. With a path it is
a SQLite file under the data dir, so a run resumed after a crash on the same host still finds
its pages; without one it is a dict (tests, one-shot CLI runs, `langgraph dev`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

SCHEMA = "CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL)"


class PageStore:
    def __init__(self, path: Path | None):
        self._memory: dict[str, str] | None = {} if path is None else None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self.path = path

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(SCHEMA)
        return self._conn

    def put(self, url: str, title: str, text: str) -> None:
        with self._lock:
            if self._memory is not None:
                self._memory[url] = text
                return
            with self._connection() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO pages (url, title, text) VALUES (?, ?, ?)", (url, title, text)
                )

    def get(self, url: str) -> str | None:
        with self._lock:
            if self._memory is not None:
                return self._memory.get(url)
            row = self._connection().execute("SELECT text FROM pages WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    async def aput(self, url: str, title: str, text: str) -> None:
        if self._memory is not None:
            return self.put(url, title, text)
        await asyncio.to_thread(self.put, url, title, text)

    async def aget(self, url: str) -> str | None:
        if self._memory is not None:
            return self.get(url)
        return await asyncio.to_thread(self.get, url)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

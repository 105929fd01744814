"""A content-addressed teacher response cache in SQLite.

The key is a hash of (model, messages, sampling parameters, response schema): the same request always
hits the same row, whatever run or order it comes from. The database runs in WAL mode and commits after
every response, so a run killed with ``kill -9`` keeps every answer it received, and the rerun sends no
request whose answer is already stored. Failed requests are never stored (a rerun asks again).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from tooldojo.records import stable_id


def cache_key(model: str, messages: list[dict[str, Any]], sampling: dict[str, Any],
              schema: dict[str, Any] | None) -> str:
    """The content address of one teacher request."""
    return stable_id(model, messages, sampling, schema, length=32)


class ResponseCache:
    """``key -> (content, usage)`` rows in one SQLite file (thread-safe, one connection)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives the process being killed (the WAL is in the OS page cache);
        # only a power loss can drop the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, step TEXT, model TEXT, "
            "content TEXT NOT NULL, usage TEXT, created REAL)"
        )

    def get(self, key: str) -> tuple[str, dict[str, int]] | None:
        with self._lock:
            row = self._db.execute("SELECT content, usage FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1] or "{}")

    def put(self, key: str, content: str, *, step: str = "", model: str = "",
            usage: dict[str, int] | None = None) -> None:
        """Store one response and commit it (autocommit mode: each statement is its own transaction)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, step, model, content, usage, created) VALUES (?,?,?,?,?,?)",
                (key, step, model, content, json.dumps(usage or {}), time.time()),
            )

    def delete(self, key: str) -> None:
        """Forget one response (a reply a later check rejected)."""
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def count_by_step(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT step, COUNT(*) FROM responses GROUP BY step").fetchall()
        return dict(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()

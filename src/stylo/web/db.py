"""Runs in SQLite (WAL): one row per run; images live as files under the data directory."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    status TEXT NOT NULL,            -- queued, running, done, failed, cancelled, interrupted
    settings TEXT NOT NULL,          -- JSON of stylo.Settings
    content TEXT NOT NULL,           -- stored input file names (server-generated)
    style TEXT NOT NULL,
    content_label TEXT NOT NULL,
    style_label TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER NOT NULL DEFAULT 0,
    loss REAL,
    history TEXT NOT NULL DEFAULT '[]',
    frame TEXT,                      -- last saved intermediate image
    result TEXT,                     -- final PNG (with manifest)
    metrics TEXT,
    seconds REAL,
    error TEXT,
    traceback TEXT,                  -- the full traceback of an internal failure (users see ``error``)
    clip TEXT,                       -- a video run: its clip folder under uploads/clips (content is its poster)
    video TEXT                       -- a video run's MP4
)
"""
JSON_FIELDS = ("settings", "history", "metrics")
ACTIVE = ("queued", "running")


class RunStore:
    """Thread-safe access to the runs table of ``path``."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(SCHEMA)
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(runs)")}
        for column in ("traceback", "clip", "video"):  # a data folder made by an earlier stylo
            if column not in columns:
                self.conn.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")

    def create(self, run_id: str, settings: dict[str, Any], content: str, style: str, content_label: str,
               style_label: str, clip: str | None = None, max_active: int | None = None) -> dict[str, Any] | None:
        """Insert a queued run; with ``max_active``, only if fewer runs than that are queued or running, the
        count and the insert under one lock (None when the queue is full)."""
        with self.lock:
            if max_active is not None and self._count_active() >= max_active:
                return None
            self.conn.execute(
                "INSERT INTO runs (id, created, status, settings, content, style, content_label, style_label, clip) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                (run_id, time.time(), json.dumps(settings), content, style, content_label, style_label, clip))
        return self.get(run_id) or {}

    def update(self, run_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k in JSON_FIELDS else v for k, v in fields.items()]
        with self.lock:
            self.conn.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values, run_id))

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _decode(row) if row else None

    def count_active(self) -> int:
        with self.lock:
            return self._count_active()

    def _count_active(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')").fetchone()[0])

    def position(self, run_id: str) -> dict[str, int]:
        """``{"ahead": N}``: the runs queued or running that were created before this one."""
        with self.lock:
            row = self.conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running') AND "
                "created < (SELECT created FROM runs WHERE id = ?)", (run_id,)).fetchone()
        return {"ahead": int(row[0])}

    def delete(self, run_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def referenced_uploads(self) -> set[str]:
        """Upload file names that some run uses."""
        with self.lock:
            rows = self.conn.execute("SELECT content, style FROM runs").fetchall()
        return {name for row in rows for name in row}

    def list(self, limit: int = 500) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_decode(r) for r in rows]

    def mark_interrupted(self) -> int:
        """At start-up: runs that were queued or running when the server stopped can no longer finish."""
        with self.lock:
            cur = self.conn.execute(
                "UPDATE runs SET status = 'interrupted', error = 'the server stopped during this run' "
                "WHERE status IN ('queued', 'running')")
        return cur.rowcount

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in JSON_FIELDS:
        if out.get(key) is not None:
            out[key] = json.loads(out[key])
    return out

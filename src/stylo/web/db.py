"""Runs in SQLite (WAL): one row per run; images live as files under the data directory. The same file holds
the learned networks (:mod:`stylo.web.netdb`): runs and trainings share one queue, so the queue's count and a
job's place in it span both tables."""

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
    video TEXT,                      -- a video run's MP4
    network TEXT                     -- a learned style's run: the network's id (style is its style's upload)
)
"""
NETWORKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    queued REAL NOT NULL,            -- when it was last queued (a resumed training queues again)
    status TEXT NOT NULL,            -- queued, running, done, interrupted, cancelled, failed
    style TEXT NOT NULL,             -- the style's upload (server-generated name)
    style_label TEXT NOT NULL,
    settings TEXT NOT NULL,          -- JSON of stylo.Settings (the objective)
    learn TEXT NOT NULL,             -- JSON of stylo.learn.LearnSettings
    step INTEGER NOT NULL DEFAULT 0,
    total_steps INTEGER NOT NULL DEFAULT 0,
    loss REAL,
    history TEXT NOT NULL DEFAULT '[]',
    seconds REAL NOT NULL DEFAULT 0,
    error TEXT,
    traceback TEXT
)
"""
JSON_FIELDS = ("settings", "history", "metrics", "learn")
_ACTIVE_BEFORE = ("SELECT (SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running') AND created < ?) + "
                  "(SELECT COUNT(*) FROM networks WHERE status IN ('queued', 'running') AND queued < ?)")
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
        self.conn.execute(NETWORKS_SCHEMA)
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(runs)")}
        for column in ("traceback", "clip", "video", "network"):  # a data folder made by an earlier stylo
            if column not in columns:
                self.conn.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")

    def create(self, run_id: str, settings: dict[str, Any], content: str, style: str, content_label: str,
               style_label: str, clip: str | None = None, max_active: int | None = None,
               network: str | None = None) -> dict[str, Any] | None:
        """Insert a queued run; with ``max_active``, only if fewer runs than that are queued or running, the
        count and the insert under one lock (None when the queue is full)."""
        with self.lock:
            if max_active is not None and self.active_unlocked() >= max_active:
                return None
            self.conn.execute(
                "INSERT INTO runs (id, created, status, settings, content, style, content_label, style_label, clip, "
                "network) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, time.time(), json.dumps(settings), content, style, content_label, style_label, clip, network))
        return self.get(run_id) or {}

    def update(self, run_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k in JSON_FIELDS else v for k, v in fields.items()]
        with self.lock:
            self.conn.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values, run_id))

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return decode_row(row) if row else None

    def count_active(self) -> int:
        with self.lock:
            return self.active_unlocked()

    def active_unlocked(self) -> int:
        """Runs and trainings queued or running (they share the queue); the caller holds ``lock``."""
        return int(self.conn.execute(_ACTIVE_BEFORE, (float("inf"), float("inf"))).fetchone()[0])

    def position(self, item_id: str) -> dict[str, int]:
        """``{"ahead": N}``: the runs and trainings queued or running that were queued before this run (or
        training)."""
        with self.lock:
            row = self.conn.execute("SELECT created FROM runs WHERE id = ? UNION ALL "
                                    "SELECT queued FROM networks WHERE id = ?", (item_id, item_id)).fetchone()
            if row is None:
                return {"ahead": 0}
            ahead = self.conn.execute(_ACTIVE_BEFORE, (row[0], row[0])).fetchone()[0]
        return {"ahead": int(ahead)}

    def delete(self, run_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def referenced_uploads(self) -> set[str]:
        """Upload file names that some run or learned network uses."""
        with self.lock:
            rows = self.conn.execute("SELECT content, style FROM runs").fetchall()
            styles = self.conn.execute("SELECT style FROM networks").fetchall()
        return {name for row in [*rows, *styles] for name in row}

    def list(self, limit: int = 500) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [decode_row(r) for r in rows]

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


def decode_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in JSON_FIELDS:
        if out.get(key) is not None:
            out[key] = json.loads(out[key])
    return out

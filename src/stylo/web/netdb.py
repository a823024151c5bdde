"""Learned networks in SQLite: one row per network that the studio trains (``stylo learn`` from the page), in the
runs' database file (:class:`~stylo.web.db.RunStore` makes the table and shares its connection and lock). The
network itself is ``networks/ID.stylo.pt`` under the data folder, its checkpoint ``ID.stylo.pt.checkpoint``
beside it while a stopped training can be resumed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from stylo.web.db import ACTIVE, RunStore, decode_row

NETWORK_STATUSES = ("queued", "running", "done", "interrupted", "cancelled", "failed")
USABLE = ("done", "interrupted")  # a stopped training wrote the network so far


def network_path(data_dir: Path, network_id: str) -> Path:
    return data_dir / "networks" / f"{network_id}.stylo.pt"


def checkpoint_of(path: Path) -> Path:
    """The checkpoint beside a network file (:func:`stylo.learn.train.checkpoint_path`'s name)."""
    return path.with_name(path.name + ".checkpoint")


def flags(network: dict[str, Any], data_dir: Path) -> dict[str, bool]:
    """What the page may do with a network: paint with it (``usable``: finished or stopped, its file there) and
    resume it (``resumable``: stopped, its checkpoint there). Only regular files count."""
    path = network_path(data_dir, network["id"])
    usable = network["status"] in USABLE and path.is_file()
    resumable = network["status"] == "interrupted" and checkpoint_of(path).is_file()
    return {"usable": usable, "resumable": resumable}


def public_network(network: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """A network as the page sees it: without the server's traceback, with what it can be used for."""
    out = {k: v for k, v in network.items() if k != "traceback"}
    return {**out, **flags(network, data_dir), "style_url": f"/api/uploads/{network['style']}"}


class NetworkStore:
    """Thread-safe access to the networks table of a :class:`RunStore`'s database."""

    def __init__(self, runs: RunStore):
        self.runs, self.conn, self.lock = runs, runs.conn, runs.lock

    def create(self, network_id: str, style: str, style_label: str, settings: dict[str, Any], learn: dict[str, Any],
               max_active: int | None = None) -> dict[str, Any] | None:
        """Insert a queued training; None when ``max_active`` jobs (runs and trainings) are already waiting."""
        with self.lock:
            if max_active is not None and self.runs.active_unlocked() >= max_active:
                return None
            now = time.time()
            self.conn.execute(
                "INSERT INTO networks (id, created, queued, status, style, style_label, settings, learn, total_steps) "
                "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
                (network_id, now, now, style, style_label, json.dumps(settings), json.dumps(learn),
                 int(learn.get("steps", 0))))
        return self.get(network_id) or {}

    def requeue(self, network_id: str, max_active: int | None = None) -> bool:
        """Queue a stopped training again (to resume it), at the back of the queue; False when the queue is full
        or it is not stopped."""
        with self.lock:
            if max_active is not None and self.runs.active_unlocked() >= max_active:
                return False
            cur = self.conn.execute("UPDATE networks SET status = 'queued', queued = ?, error = NULL "
                                    "WHERE id = ? AND status = 'interrupted'", (time.time(), network_id))
        return cur.rowcount == 1

    def update(self, network_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k in ("settings", "learn", "history") else v for k, v in fields.items()]
        with self.lock:
            self.conn.execute(f"UPDATE networks SET {cols} WHERE id = ?", (*values, network_id))

    def get(self, network_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM networks WHERE id = ?", (network_id,)).fetchone()
        return decode_row(row) if row else None

    def list(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM networks ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [decode_row(r) for r in rows]

    def delete(self, network_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    def mark_interrupted(self) -> int:
        """At start-up: trainings that were queued or running when the server stopped (resumable where their
        last checkpoint is there)."""
        marks = ", ".join("?" for _ in ACTIVE)
        with self.lock:
            cur = self.conn.execute(
                "UPDATE networks SET status = 'interrupted', error = 'the server stopped during this training' "
                f"WHERE status IN ({marks})", ACTIVE)
        return cur.rowcount

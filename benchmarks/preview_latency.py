"""How soon the studio shows a picture: seconds from submitting a run to its first event of each kind.

    python benchmarks/preview_latency.py [--size 512]

A studio app in this process (FastAPI's test client, the network loaded first, as a warm server), the bundled
samples Tübingen × Starry Night, every other setting the default, seed 0. ``preview`` is the starting picture
(the feed-forward sketch), ``step`` the first optimizer step, ``end`` the finished run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    from fastapi.testclient import TestClient

    from stylo.web.app import create_app

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, help="override the default steps (for a quick check)")
    args = ap.parse_args(argv)
    settings: dict[str, Any] = {"seed": 0, "size": args.size}
    if args.steps is not None:
        settings |= {"steps": args.steps, "coarse_steps": args.steps}
    with tempfile.TemporaryDirectory() as tmp, \
            TestClient(create_app(Path(tmp) / "data"), base_url="http://127.0.0.1") as client:
        bus, first = client.app.state.events, {}  # type: ignore[attr-defined]
        publish = bus.publish
        client.app.state.jobs.ready.wait()  # type: ignore[attr-defined]
        ids = [client.post("/api/uploads/sample", json={"name": n}).json()["id"]
               for n in ("tubingen.jpg", "starry_night.jpg")]
        start = time.monotonic()

        def record(run_id: str, event: dict[str, Any]) -> None:
            first.setdefault(event["type"], time.monotonic() - start)
            publish(run_id, event)

        bus.publish = record
        run_id = client.post("/api/runs", json={"content": ids[0], "style": ids[1], "settings": settings}).json()["id"]
        while client.get(f"/api/runs/{run_id}").json()["status"] in ("queued", "running"):
            time.sleep(0.1)
    print(" ".join(f"{kind} {seconds:.2f} s" for kind, seconds in first.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

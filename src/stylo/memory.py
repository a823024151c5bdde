"""Peak resident memory of a stretch of work in this process (Linux: VmHWM, reset through clear_refs).

``getrusage(RUSAGE_SELF)`` reports the whole process's peak, so a sweep's second cell would report the first
cell's peak; writing 5 to ``/proc/self/clear_refs`` resets the high-water mark that ``/proc/self/status``
reports, so each cell gets its own.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Reset the process's peak RSS to its current RSS; False where the platform cannot."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """The process's peak RSS since the last reset (or since it started)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """``with PeakMemory() as p: ...`` then ``p.mib``: the peak RSS reached inside the block (MiB); where
    the peak cannot be reset, the process's peak (``p.exact`` is False)."""

    def __init__(self) -> None:
        self.exact = False
        self.mib = 0.0

    def __enter__(self) -> PeakMemory:
        self.exact = reset_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mib = round(peak_rss_bytes() / 2**20, 1)

from __future__ import annotations

import numpy as np

from stylo.memory import PeakMemory


def test_each_block_reports_its_own_peak_not_the_process_peak() -> None:
    with PeakMemory() as big:
        block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
        del block
    with PeakMemory() as small:
        block = np.ones(16 * 2**20 // 8)
        del block
    assert big.exact and small.exact  # Linux: the peak can be reset
    assert big.mib > small.mib + 300  # the second block does not inherit the first one's peak

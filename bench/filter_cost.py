"""What turning a filter into the allowed segments costs alone, without k-NN, on an
index built by ``bench/scale.py``: SQL returning every allowed id (``allowed_ids``,
before issue #19) or the filter columns' bitmap (``allowed``), whichever the sceneseek
on ``PYTHONPATH`` has, so one run can compare two checkouts on the same index:

    for tree in OLD NEW; do PYTHONPATH=$tree python bench/filter_cost.py DB; done

20 filters per selectivity, each with its own ``after`` bound so nothing is cached; the
median, and the first filter of the process (which reads the columns' file).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scale import filter_for

from sceneseek.index.base import SegmentFilter
from sceneseek.index.catalogue import Catalogue


def main() -> None:
    catalogue = Catalogue(Path(sys.argv[1]), create=False)
    turn = getattr(catalogue, "allowed", None) or catalogue.allowed_ids  # type: ignore[attr-defined]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    turn(SegmentFilter(camera="warm-up"))
    out: dict[str, object] = {"first_s": time.perf_counter() - started}
    for selectivity in ("1%", "10%", "50%"):
        times = []
        for j in range(20):
            started = time.perf_counter()
            turn(filter_for(selectivity, j))
            times.append((time.perf_counter() - started) * 1000)
        out[selectivity] = round(float(np.median(times)), 1)
    out["load"] = [load, os.getloadavg()[0]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()

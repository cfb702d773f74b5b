"""Rebuild the sceneseek-bench benchmark from real registry media (GitHub issue #3).

Usage: python bench/build_dataset.py --out bench/data/sceneseek-bench
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sceneseek.eval.dataset import build_dataset, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/data/sceneseek-bench"))
    args = parser.parse_args()
    started = time.monotonic()
    dataset = build_dataset(args.out)
    elapsed = time.monotonic() - started
    print(f"{len(dataset['videos'])} videos, {len(dataset['queries'])} queries in {elapsed:.0f}s")
    print(json.dumps(summary(dataset), indent=1))
    print(f"wrote {args.out / 'dataset.json'} and {args.out / 'MANIFEST.json'}")


if __name__ == "__main__":
    main()

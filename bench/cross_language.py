"""Cross-language search on the benchmark: mAP@10 per query language and modality from
`sceneseek eval --json` files, and the copy of an index without ingest-time keyword
translations that the "keyword translation off" rows are scored on.

    python bench/cross_language.py table NAME=EVAL.json ...   # a markdown table
    python bench/cross_language.py strip SRC_DB DST_DB        # keyword rows as without
                                                              # language.translate_index

``strip`` gives the keyword rows ``language.translate_index = false`` would have built
from the same analysis (the translations are only keyword text), without analysing the
videos again, which would also change what Whisper heard on a loaded machine.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

from sceneseek.encoders.base import Observation
from sceneseek.index.keyword import TEXT_FIELDS, text_row

LANGUAGES = ("en", "es")
MODALITIES = ("visual", "speech", "sound", "ocr", "multi")


def table(runs: list[tuple[str, Path]]) -> str:
    """One row per run: mAP@10 per language overall and per modality."""
    columns = [(lang, m) for lang in LANGUAGES for m in (None, *MODALITIES)]
    header = [
        "run",
        *(f"{lang} {m}" if m else f"**{lang}**" for lang, m in columns),
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, path in runs:
        queries = json.loads(path.read_text())["sceneseek"]["queries"]
        cells = []
        for lang, modality in columns:
            aps = [
                q["ap"]
                for q in queries
                if "ap" in q and q["lang"] == lang and modality in (None, q["modality"])
            ]
            cells.append(f"{sum(aps) / len(aps):.3f}" if aps else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def strip(source: Path, target: Path) -> None:
    """Copy the index at ``source`` to ``target`` with keyword rows that leave out the
    English translations (what BM25 matches; the stored observations keep them, for the
    explanations only)."""
    shutil.copytree(source, target)
    db = sqlite3.connect(target / "index.sqlite")
    assignments = ", ".join(f"{f} = ?" for f in TEXT_FIELDS)
    with db:
        rows = db.execute("SELECT id, observations, labels FROM segments").fetchall()
        for segment_id, stored, labels in rows:
            observations = {
                m: [replace(Observation(*item), english=None) for item in items]
                for m, items in json.loads(stored).items()
            }
            row = text_row(observations, [(n, p) for n, p in json.loads(labels)])
            db.execute(f"UPDATE segment_text SET {assignments} WHERE rowid = ?", (*row, segment_id))
    db.close()


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "table":
        print(table([(a.split("=", 1)[0], Path(a.split("=", 1)[1])) for a in args]))
    elif command == "strip":
        strip(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

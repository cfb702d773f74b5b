"""Spanish against English query latency, with Apertium started per call (one-shot, the
old way) and kept running (resident), in one run on one index: ``Library.search`` in
process and ``/api/search`` through ``sceneseek serve``, p50/p95 per language, and the
share of a Spanish search that reading its language and translating it takes.

    python bench/apertium_latency.py --db DIR [--json FILE]

Queries: bench/language_queries.tsv, English and Spanish; the first few of each warm
up (models, connections, Apertium start-up), the rest are timed once each, so every timed
query is one the translation cache has not seen. Each setting gets its own ``Library``
and server. Then every pair mode is checked for answers that depend on what its
resident pipeline was asked before (the queries in two orders; ``one_shot_modes``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_latency import free_port, start_server, summary  # noqa: E402
from language_detection import load  # noqa: E402

from sceneseek import Library  # noqa: E402
from sceneseek.config import Config, LanguageConfig  # noqa: E402
from sceneseek.language.detect import configured  # noqa: E402
from sceneseek.language.translate import Translator  # noqa: E402

WARM_UP = 5  # queries per language, not timed
LANGUAGES = ("en", "es")
SETTINGS = {"one-shot": False, "resident": True}


def timed(search: Any, queries: list[str]) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure(db: Path, keep_running: bool, queries: dict[str, list[str]]) -> dict[str, Any]:
    """p50/p95 per language of in-process search, HTTP search and reading alone."""
    os.environ["SCENESEEK_LANGUAGE__KEEP_APERTIUM_RUNNING"] = str(keep_running).lower()
    config = Config()
    library = Library(db, config)
    reader = configured(config.language)
    server = start_server(db, port := free_port())
    rows: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

            def over_http(query: str) -> None:
                client.get("/api/search", params={"q": query, "top_k": 10}).raise_for_status()

            for language in LANGUAGES:  # warm-up
                for query in queries[language][:WARM_UP]:
                    library.search(query, top_k=10)
                    over_http(query)
                    reader.read([query])
            for language in LANGUAGES:
                timed_queries = queries[language][WARM_UP:]
                rows[language] = {
                    "queries": len(timed_queries),
                    "in_process": summary(
                        timed(lambda q: library.search(q, top_k=10), timed_queries)
                    ),
                    "http": summary(timed(over_http, timed_queries)),
                    "read_only": summary(timed(lambda q: reader.read([q]), timed_queries)),
                }
    finally:
        server.terminate()
        server.wait(timeout=30)
        library.close()
        reader.translator.close()
    return rows


def history_dependent(queries: list[str]) -> dict[str, int]:
    """Per pair mode: how many queries its resident pipeline translates differently when
    asked them one by one in another order (0: safe to keep running)."""
    languages = {mode: language for language, mode in LanguageConfig().pairs.items()}
    out = {}
    for mode, language in sorted(languages.items()):
        answers = []
        for seed in range(2):
            translator = Translator({language: mode}, "eng-spa")  # no one_shot_modes
            order = random.Random(seed).sample(queries, len(queries))
            answers.append({q: translator.to_english([q], language)[0] for q in order})
            translator.close()
        out[mode] = sum(answers[0][q] != answers[1][q] for q in queries)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    rows = load()
    queries = {lang: [text for label, text in rows if label == lang] for lang in LANGUAGES}
    results: dict[str, Any] = {
        name: measure(args.db, keep, queries) for name, keep in SETTINGS.items()
    }
    results["history_dependent"] = history_dependent([text for _, text in rows])
    print(f"{'':10}{'':4}{'in-process p50/p95':>20}{'HTTP p50/p95':>18}{'read p50/p95':>18}")
    for name in SETTINGS:
        for language in LANGUAGES:
            row = results[name][language]
            cells = [
                f"{row[key]['p50_ms']:.0f} / {row[key]['p95_ms']:.0f}"
                for key in ("in_process", "http", "read_only")
            ]
            print(f"{name:10}{language:4}{cells[0]:>20}{cells[1]:>18}{cells[2]:>18}")
    print("answers depending on earlier requests:", results["history_dependent"])
    text = json.dumps(results, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Query language detection on short queries: accuracy per language and time per query,
for py3langid alone and for the detector search uses (py3langid ranked, Apertium's
dictionaries judging). Labelled queries: bench/language_queries.tsv.

    python bench/language_detection.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from sceneseek.config import LanguageConfig
from sceneseek.language.detect import configured, ngram_identifier

QUERIES = Path(__file__).with_name("language_queries.tsv")
SERBO_CROATIAN = {"hr", "sr", "bs"}  # one Apertium pair (hbs-eng): confusing them costs nothing


def load() -> list[tuple[str, str]]:
    lines = QUERIES.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return [(language, text) for language, text in rows]


def same(a: str, b: str) -> bool:
    return a == b or {a, b} <= SERBO_CROATIAN


def score(rows: list[tuple[str, str]], guesses: list[str]) -> dict[str, object]:
    total, right = Counter(), Counter()
    for (language, _), guess in zip(rows, guesses, strict=True):
        total[language] += 1
        right[language] += same(language, guess)
    return {
        "accuracy": round(sum(right.values()) / len(rows), 3),
        "per_language": {lang: f"{right[lang]}/{n}" for lang, n in sorted(total.items())},
        "wrong": [
            f"{text} ({language} → {guess})"
            for (language, text), guess in zip(rows, guesses, strict=True)
            if not same(language, guess)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    rows = load()
    texts = [text for _, text in rows]
    reader = configured(LanguageConfig())
    identifier = ngram_identifier(reader.languages)
    identifier_started = time.perf_counter()
    alone = [identifier.classify(t)[0] for t in texts]
    langid_ms = (time.perf_counter() - identifier_started) * 1000 / len(texts)
    started = time.perf_counter()
    one_by_one = [reader.read([t])[0].language for t in texts]  # as queries arrive
    reader_ms = (time.perf_counter() - started) * 1000 / len(texts)
    results = {
        "queries": len(rows),
        "py3langid": {**score(rows, alone), "ms_per_query": round(langid_ms, 2)},
        "py3langid+apertium": {**score(rows, one_by_one), "ms_per_query": round(reader_ms, 1)},
    }
    text = json.dumps(results, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

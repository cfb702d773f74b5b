"""English translations with Apertium: rule-based, offline, a few milliseconds per line
once running. Each call starts one pipeline (about 0.1 s of start-up), so callers batch
(one process for all the lines of a video) and queries are cached.

Apertium marks the words its analyser does not know (``*word``); the share of those is
what ``detect`` weighs languages by, so a translation carries it."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sceneseek.errors import SceneseekError

ENGLISH = "en"
WORD = re.compile(r"\w+", re.UNICODE)
UNKNOWN = re.compile(r"[*#@](\w+)", re.UNICODE)  # not in the dictionary / bilingual / generator
CACHE_SIZE = 4096
TIMEOUT_SECONDS = 60


class TranslationError(SceneseekError):
    """Apertium failed or answered something other than one line per input line."""


@dataclass(frozen=True)
class Rendering:
    """One text through one Apertium mode."""

    text: str  # the output, unknown-word marks removed
    unknown: float  # share of the input's words that the analyser did not know


@lru_cache(maxsize=1)
def installed_modes() -> frozenset[str]:
    """Apertium modes on this machine (``apertium -l``); none without Apertium."""
    if shutil.which("apertium") is None:
        return frozenset()
    listed = subprocess.run(
        ["apertium", "-l"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    return frozenset(listed.stdout.split())


def run_modes(jobs: dict[str, list[str]]) -> dict[str, list[Rendering]]:
    """Each mode's texts through that mode: one process per mode, all running at once,
    one line per text (line breaks inside a text become spaces)."""
    running = {
        mode: subprocess.Popen(
            ["apertium", "-f", "txt", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode, texts in jobs.items()
        if texts
    }
    results: dict[str, list[Rendering]] = {}
    for mode, process in running.items():
        texts = [" ".join(t.split()) for t in jobs[mode]]
        try:
            out, err = process.communicate("\n".join(texts) + "\n", timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise TranslationError(f"apertium {mode} took over {TIMEOUT_SECONDS} s") from None
        lines = out.split("\n")[: len(texts)]
        if process.returncode != 0 or len(lines) != len(texts):
            raise TranslationError(
                f"apertium {mode} failed (exit {process.returncode}): {err.strip()[:200]}"
            )
        results[mode] = [_rendering(t, line) for t, line in zip(texts, lines, strict=True)]
    return results


def _rendering(source: str, output: str) -> Rendering:
    words = len(WORD.findall(source))
    unknown = len(UNKNOWN.findall(output))
    clean = " ".join(UNKNOWN.sub(r"\1", output).split())
    return Rendering(clean, min(1.0, unknown / words) if words else 1.0)


class Translator:
    """Into English, for the languages of ``pairs`` (language code → Apertium mode) whose
    mode is installed; ``english_mode`` (English into anything) only measures how many
    of a text's words are English. Remembers what it translated."""

    def __init__(self, pairs: dict[str, str], english_mode: str) -> None:
        self.pairs = pairs
        self.english_mode = english_mode
        self._cache: dict[tuple[str, str], Rendering] = {}

    def mode(self, language: str) -> str | None:
        """The installed mode that reads ``language`` (English: ``english_mode``)."""
        mode = self.english_mode if language == ENGLISH else self.pairs.get(language)
        return mode if mode in installed_modes() else None

    def render(self, jobs: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], Rendering]:
        """(language, text) → its rendering, for every text of every language that has an
        installed mode (others are left out): one Apertium process per language."""
        wanted = {
            (language, text)
            for language, texts in jobs.items()
            if self.mode(language) is not None
            for text in texts
        }
        missing: dict[str, list[str]] = {}
        for language, text in wanted:
            key = (str(self.mode(language)), text)
            if key not in self._cache:
                missing.setdefault(key[0], []).append(text)
        for mode, renderings in run_modes(missing).items():
            for text, rendering in zip(missing[mode], renderings, strict=True):
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[(mode, text)] = rendering
        return {(lang, text): self._cache[(str(self.mode(lang)), text)] for lang, text in wanted}

    def to_english(self, texts: list[str], language: str) -> list[str | None]:
        """English translations of texts in ``language`` (None: no installed pair)."""
        if language == ENGLISH or self.mode(language) is None:
            return [None] * len(texts)
        rendered = self.render({language: texts})
        return [rendered[(language, t)].text for t in texts]

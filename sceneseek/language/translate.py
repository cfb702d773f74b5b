"""English translations with Apertium: rule-based, offline, a few milliseconds per line
once running. Each call starts one pipeline (about 0.1 s of start-up on an idle machine),
so callers batch (one process for all the lines of a video) and results are cached.

How many of a text's words a language's dictionary knows, which is what ``detect``
weighs languages by, needs only the first stage of that language's pipeline (the
morphological analyser), a much lighter process than the whole translation."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from sceneseek.errors import SceneseekError

ENGLISH = "en"
MODES_DIR = Path("/usr/share/apertium/modes")
UNKNOWN_MARK = re.compile(r"[*#@](\w+)", re.UNICODE)  # not in the dictionaries / generator
ANALYSED_UNIT = re.compile(r"\^([^/$]*)/([^$]*)\$")  # ^surface/analysis/...$
NOT_WORD = re.compile(r"[^\w\s]", re.UNICODE)  # the analyser's stream syntax, and punctuation
CACHE_SIZE = 4096
TIMEOUT_SECONDS = 60


class TranslationError(SceneseekError):
    """Apertium failed or answered something other than one line per input line."""


@lru_cache(maxsize=1)
def installed_modes() -> frozenset[str]:
    """Apertium modes on this machine (``apertium -l``); none without Apertium."""
    if shutil.which("apertium") is None:
        return frozenset()
    listed = subprocess.run(
        ["apertium", "-l"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    return frozenset(listed.stdout.split())


def _analyser(mode: str) -> list[str]:
    """The command of the mode's first stage: its morphological analyser (lt-proc)."""
    first = (MODES_DIR / f"{mode}.mode").read_text(encoding="utf-8").split("|")[0]
    return shlex.split(first)


def _run(commands: dict[str, list[str]], lines: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each command over its lines, all processes at once: one output line per line. Any
    failure is a TranslationError naming the mode, with every process stopped."""
    running: dict[str, subprocess.Popen[str]] = {}
    try:
        for key, argv in commands.items():
            try:
                running[key] = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            except OSError as exc:
                raise TranslationError(f"apertium {key}: cannot run {argv[0]!r}: {exc}") from None
        return {key: _output(key, process, lines[key]) for key, process in running.items()}
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


def _output(key: str, process: subprocess.Popen[str], lines: list[str]) -> list[str]:
    try:
        out, err = process.communicate("\n".join(lines) + "\n", timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise TranslationError(f"apertium {key} took over {TIMEOUT_SECONDS} s") from None
    got = out.split("\n")[: len(lines)]
    if process.returncode != 0 or len(got) != len(lines):
        raise TranslationError(
            f"apertium {key} failed (exit {process.returncode}): {err.strip()[:200]}"
        )
    return got


def _unknown_share(analysed: str) -> float:
    """Share of the analysed words that the dictionary did not know (``^w/*w$``)."""
    units = [a for surface, a in ANALYSED_UNIT.findall(analysed) if re.search(r"\w", surface)]
    return sum(a.startswith("*") for a in units) / len(units) if units else 1.0


class Translator:
    """Into English, for the languages of ``pairs`` (language code → Apertium mode) whose
    mode is installed; ``english_mode`` (English into anything) is only used to count
    how many of a text's words are English. Remembers its answers."""

    def __init__(self, pairs: dict[str, str], english_mode: str) -> None:
        self.pairs = pairs
        self.english_mode = english_mode
        self._cache: dict[tuple[str, str, str], str | float] = {}

    def mode(self, language: str) -> str | None:
        """The installed mode that reads ``language`` (English: ``english_mode``)."""
        mode = self.english_mode if language == ENGLISH else self.pairs.get(language)
        return mode if mode in installed_modes() else None

    def unknown(self, jobs: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], float]:
        """(language, text) → share of its words the language's dictionary does not know,
        for every language with an installed mode (others are left out)."""
        return {
            key: float(value)
            for key, value in self._answers(
                "unknown", jobs, _analyser, _words_only, _unknown_share
            ).items()
        }

    def to_english(self, texts: list[str], language: str) -> list[str | None]:
        """English translations of texts in ``language`` (None: English or no pair)."""
        if language == ENGLISH or self.mode(language) is None:
            return [None] * len(texts)
        answers = self._answers("english", {language: texts}, _translator, str, _clean)
        return [str(answers[(language, " ".join(t.split()))]) for t in texts]

    def _answers(
        self,
        kind: str,
        jobs: Mapping[str, Iterable[str]],
        command: Callable[[str], list[str]],
        prepare: Callable[[str], str],
        read: Callable[[str], str | float],
    ) -> dict[tuple[str, str], str | float]:
        """(language, text with its spaces normalised) → ``read`` of the output of the
        mode's ``command`` on ``prepare(text)``: one process per mode, for the texts not
        answered before."""
        wanted = {
            (language, " ".join(text.split()))
            for language, texts in jobs.items()
            if self.mode(language) is not None
            for text in texts
        }
        found: dict[tuple[str, str, str], str | float] = {}
        missing: dict[str, list[str]] = {}
        for language, text in wanted:
            key = (kind, str(self.mode(language)), text)
            if key in self._cache:
                found[key] = self._cache[key]
            else:
                missing.setdefault(key[1], []).append(text)
        lines = {mode: [prepare(t) for t in texts] for mode, texts in missing.items()}
        outputs = _run({mode: command(mode) for mode in missing}, lines)
        for mode, texts in missing.items():
            for text, output in zip(texts, outputs[mode], strict=True):
                found[(kind, mode, text)] = read(output)
        # Answered from this call's own results: evicting old entries to make room can
        # never drop one it needs, however large the batch.
        for key, answer in found.items():
            if key not in self._cache and len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = answer
        return {
            (language, text): found[(kind, str(self.mode(language)), text)]
            for language, text in wanted
        }


def _words_only(text: str) -> str:
    """What the analyser reads: words (its stream syntax uses ^$/[]@ and more)."""
    return NOT_WORD.sub(" ", text)


def _translator(mode: str) -> list[str]:
    return ["apertium", "-f", "txt", mode]


def _clean(translated: str) -> str:
    """The translation without Apertium's marks on words it could not translate."""
    return " ".join(UNKNOWN_MARK.sub(r"\1", translated).split())

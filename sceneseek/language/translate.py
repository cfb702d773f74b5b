"""English translations with Apertium: rule-based, offline, about a millisecond per line
once running. Starting a pipeline costs 0.1-0.4 s (loading its dictionaries), more than a
whole search, so each mode's pipeline is started once and kept running (``Resident``, in
Apertium's null-flush mode) for every later call; ``keep_running=False`` starts one per
call instead (``apertium -f txt``), the reference the resident path must match exactly.
Callers still batch (all the lines of a video in one request) and answers are cached.

How many of a text's words a language's dictionary knows, which is what ``detect``
weighs languages by, needs only the first stage of that language's pipeline (the
morphological analyser), a much lighter process than the whole translation."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

from sceneseek.errors import SceneseekError

ENGLISH = "en"
MODES_DIR = Path("/usr/share/apertium/modes")
UNKNOWN_MARK = re.compile(r"[*#@](\w+)", re.UNICODE)  # not in the dictionaries / generator
ANALYSED_UNIT = re.compile(r"\^([^/$]*)/([^$]*)\$")  # ^surface/analysis/...$
NOT_WORD = re.compile(r"[^\w\s]", re.UNICODE)  # the analyser's stream syntax, and punctuation
CACHE_SIZE = 4096
TIMEOUT_SECONDS = 60
# A resident request: start-up (first request only) plus a margin per line; answers take
# about a millisecond a line, so only a hung process ever reaches it.
START_SECONDS = 20.0
REQUEST_SECONDS = 10.0
LINE_SECONDS = 0.05
CLOSE_SECONDS = 2.0
# What Apertium's text deformatter (apertium-destxt) escapes with a backslash, and what its
# reformatter (apertium-retxt) turns back: one escaped character, the full stop + empty
# blank the deformatter ends a text with, or a blank's bracket.
ESCAPED = "[]\\/@<>^${}"
REFORMAT = re.compile(rf"\\([{re.escape(ESCAPED)}])|\.\[\]|[\[\]]|[^\[\]\\.]+|.", re.DOTALL)
# Characters the deformatter treats other than by escaping (``~`` and NUL, found by
# running it on every character): texts with them, and empty texts (a blank line ends a
# sentence), go through the one-shot pipeline, whose deformatter handles them.
NOT_PLAIN = re.compile(r"[~\x00]")

log = logging.getLogger(__name__)


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


def _resident_analyser(mode: str) -> list[list[str]]:
    """The analyser in null-flush mode, as a one-stage pipeline."""
    program, *arguments = _analyser(mode)
    return [[program, "-z", *arguments]]


@lru_cache(maxsize=32)
def _resident_translator(mode: str) -> list[list[str]]:
    """The stages of ``apertium -f txt MODE`` between its deformatter and reformatter,
    each in null-flush mode: the commands ``apertium-wblank-mode -z`` writes for the
    mode, with the arguments the ``apertium`` script gives them (``$1``: -g, mark
    unknown words; ``$2``: no tagger option)."""
    try:
        listed = subprocess.run(
            ["apertium-wblank-mode", "-z", str(MODES_DIR / f"{mode}.mode")],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise TranslationError(f"apertium {mode}: cannot list its stages: {exc}") from None
    arguments = {"$1": ["-g"], "$2": []}
    return [
        [part for word in shlex.split(stage) for part in arguments.get(word, [word])]
        for stage in listed.split("|")
    ]


@lru_cache(maxsize=1)
def _environment() -> dict[str, str]:
    """What the ``apertium`` script runs its stages with: a UTF-8 character locale."""
    return {**os.environ, "LC_CTYPE": "C.UTF-8"}


class Resident:
    """One long-lived Apertium pipeline in null-flush mode (``-z``): a block of input
    ended by a NUL is answered by its output ended by a NUL. Started on first use;
    one request at a time (a lock: the API searches and ingests from several threads);
    a pipeline that died since its last answer is restarted, and one that fails or
    overruns a request's time limit is stopped (the next request restarts it). Every
    stage is this process's own child, so ``close`` reaps them all."""

    def __init__(
        self,
        name: str,
        stages: Callable[[], list[list[str]]],
        start_seconds: float = START_SECONDS,
    ) -> None:
        self.name = name
        self._stages = stages
        self.start_seconds = start_seconds  # more time for a first request: loading
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._errors: IO[bytes] | None = None
        self.answered = False  # a request of this pipeline was ever answered

    def ask(self, block: str, seconds: float) -> str:
        """The pipeline's output for ``block``, within ``seconds`` (or TranslationError)."""
        with self._lock:
            if not self._processes or any(p.poll() is not None for p in self._processes):
                self._stop()
                self._start()
            limit = seconds + (0.0 if self.answered else self.start_seconds)
            try:
                answer = self._exchange(block.encode() + b"\0", limit)
            except TranslationError:
                self._stop()
                raise
            self.answered = True
            if self._errors is not None and self._errors.tell():
                self._errors.seek(0)  # the stages share this offset: warnings since the
                self._errors.truncate()  # last answer are all a failure needs
            return answer

    def start(self) -> None:
        """Start the pipeline now (it loads its dictionaries while the caller goes on)."""
        with self._lock:
            if not self._processes:
                self._start()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def pids(self) -> list[int]:
        return [p.pid for p in self._processes]

    def _start(self) -> None:
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - kept while it runs
        source: int | IO[bytes] = subprocess.PIPE
        try:
            for argv in self._stages():
                process = subprocess.Popen(
                    argv,
                    stdin=source,
                    stdout=subprocess.PIPE,
                    stderr=self._errors,
                    env=_environment(),
                )
                if self._processes:
                    assert self._processes[-1].stdout is not None
                    self._processes[-1].stdout.close()  # the next stage alone reads it
                self._processes.append(process)
                assert process.stdout is not None
                source = process.stdout
        except OSError as exc:
            self._stop()
            raise TranslationError(f"apertium {self.name}: cannot run it: {exc}") from None
        first = self._processes[0].stdin
        assert first is not None
        os.set_blocking(first.fileno(), False)

    def _exchange(self, request: bytes, limit: float) -> str:
        """Write ``request`` and read up to the answering NUL, both at once (a long
        answer can fill the output pipe before the request is all written)."""
        stdin, stdout = self._processes[0].stdin, self._processes[-1].stdout
        assert stdin is not None and stdout is not None
        deadline = time.monotonic() + limit
        answer = bytearray()
        sent = 0
        with selectors.DefaultSelector() as selector:
            selector.register(stdin, selectors.EVENT_WRITE)
            selector.register(stdout, selectors.EVENT_READ)
            while not answer.endswith(b"\0"):
                ready = selector.select(deadline - time.monotonic())
                if not ready:
                    raise TranslationError(f"apertium {self.name} took over {limit:.0f} s")
                for key, _ in ready:
                    if key.fileobj is stdin:
                        try:
                            sent += os.write(stdin.fileno(), request[sent : sent + 65536])
                        except BrokenPipeError:
                            raise self._failure() from None
                        if sent == len(request):
                            selector.unregister(stdin)
                    else:
                        chunk = os.read(stdout.fileno(), 65536)
                        if not chunk:
                            raise self._failure()
                        answer += chunk
        if any(p.poll() is not None for p in self._processes):
            raise self._failure()  # a stage that died flushes what it had, NUL and all
        if sent < len(request) or answer.count(0) != 1:
            raise TranslationError(f"apertium {self.name} answered out of turn")
        return answer[:-1].decode(errors="replace")

    def _failure(self) -> TranslationError:
        """The error for a pipeline that stopped answering, with what it said."""
        said = b""
        if self._errors is not None:
            self._errors.seek(0)
            said = self._errors.read()[-200:]
        return TranslationError(
            f"apertium {self.name} stopped: {said.decode(errors='replace').strip()}"
        )

    def _stop(self) -> None:
        """End every stage and reap it: input closed first (each stage then exits in
        turn), killed after ``CLOSE_SECONDS``."""
        processes, self._processes = self._processes, []
        if processes and processes[0].stdin is not None:
            with contextlib.suppress(OSError):  # a broken pipe: the stage is gone already
                processes[0].stdin.close()
        deadline = time.monotonic() + CLOSE_SECONDS
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        self.answered = False


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
        out, err = process.communicate(_lines_block(lines), timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise TranslationError(f"apertium {key} took over {TIMEOUT_SECONDS} s") from None
    if process.returncode != 0:
        raise TranslationError(
            f"apertium {key} failed (exit {process.returncode}): {err.strip()[:200]}"
        )
    return _line_each(key, out, len(lines))


def _line_each(key: str, output: str, count: int) -> list[str]:
    """The first ``count`` lines of ``output``, each ended by a line break as every input
    line is (a pipeline cut short answers less), or a TranslationError."""
    got = output.split("\n")
    if len(got) <= count:
        raise TranslationError(f"apertium {key} answered {len(got) - 1} lines for {count}")
    return got[:count]


def _lines_block(lines: list[str]) -> str:
    """Lines as the one-shot processes read them, one per line."""
    return "\n".join(lines) + "\n"


def _deformat(lines: list[str]) -> str | None:
    """What apertium-destxt makes of ``_lines_block(lines)`` (each line escaped, line
    breaks as blanks, the end marked), for lines it only escapes; None for others."""
    if not all(lines) or any(NOT_PLAIN.search(line) for line in lines):
        return None
    escaped = [re.sub(f"([{re.escape(ESCAPED)}])", r"\\\1", line) for line in lines]
    return "[\n]".join(escaped) + ".[][\n]"


def _reformat(output: str) -> str:
    """What apertium-retxt makes of a pipeline's output (for deformatted input whose
    blanks are all line breaks: retxt reads a blank starting with @ as a file name)."""
    return "".join(
        token[1] if token[1] is not None else ("" if token[0] in (".[]", "[", "]") else token[0])
        for token in ((m.group(0), m.group(1)) for m in REFORMAT.finditer(output))
    )


def _unknown_share(analysed: str) -> float:
    """Share of the analysed words that the dictionary did not know (``^w/*w$``)."""
    units = [a for surface, a in ANALYSED_UNIT.findall(analysed) if re.search(r"\w", surface)]
    return sum(a.startswith("*") for a in units) / len(units) if units else 1.0


@dataclass(frozen=True)
class Stage:
    """What one kind of answer runs: one-shot, ``command`` over ``prepare(text)`` lines,
    each output line then ``read``; resident, the ``resident`` pipeline on ``block`` of
    the lines (None: these lines need the one-shot run), its output as the one-shot run
    writes it through ``unblock``."""

    command: Callable[[str], list[str]]
    resident: Callable[[str], list[list[str]]]
    prepare: Callable[[str], str]
    block: Callable[[list[str]], str | None]
    unblock: Callable[[str], str]
    read: Callable[[str], str | float]


class Translator:
    """Into English, for the languages of ``pairs`` (language code → Apertium mode) whose
    mode is installed; ``english_mode`` (English into anything) is only used to count
    how many of a text's words are English. Remembers its answers. With
    ``keep_running``, each pipeline it needs stays running until ``close``, but the
    translations of ``one_shot_modes`` (whose answers would depend on earlier requests);
    a pipeline that fails its first request (it cannot null-flush) joins them, and any
    failed request is answered by a one-shot run."""

    def __init__(
        self,
        pairs: dict[str, str],
        english_mode: str,
        keep_running: bool = True,
        one_shot_modes: Iterable[str] = (),
    ) -> None:
        self.pairs = pairs
        self.english_mode = english_mode
        self.keep_running = keep_running
        self._cache: dict[tuple[str, str, str], str | float] = {}
        self._residents: dict[tuple[str, str], Resident] = {}
        # (kind, mode) run one-shot: the analysers alone keep no state between requests
        self.one_shot = {("english", mode) for mode in one_shot_modes}
        self._lock = threading.Lock()  # the cache and the residents, between threads

    def mode(self, language: str) -> str | None:
        """The installed mode that reads ``language`` (English: ``english_mode``)."""
        mode = self.english_mode if language == ENGLISH else self.pairs.get(language)
        return mode if mode in installed_modes() else None

    def unknown(self, jobs: Mapping[str, Iterable[str]]) -> dict[tuple[str, str], float]:
        """(language, text) → share of its words the language's dictionary does not know,
        for every language with an installed mode (others are left out)."""
        return {key: float(value) for key, value in self._answers("unknown", jobs).items()}

    def to_english(self, texts: list[str], language: str) -> list[str | None]:
        """English translations of texts in ``language`` (None: English or no pair)."""
        if language == ENGLISH or self.mode(language) is None:
            return [None] * len(texts)
        answers = self._answers("english", {language: texts})
        return [str(answers[(language, " ".join(t.split()))]) for t in texts]

    def residents(self) -> list[Resident]:
        with self._lock:
            return list(self._residents.values())

    def close(self) -> None:
        """Stop every running pipeline (a later call starts them again)."""
        with self._lock:
            residents, self._residents = list(self._residents.values()), {}
        for resident in residents:
            resident.close()

    def _answers(
        self, kind: str, jobs: Mapping[str, Iterable[str]]
    ) -> dict[tuple[str, str], str | float]:
        """(language, text with its spaces normalised) → ``read`` of the output of the
        mode's ``kind`` stage on ``prepare(text)``: one request per mode, for the texts
        not answered before."""
        stage = STAGES[kind]
        wanted = {
            (language, " ".join(text.split()))
            for language, texts in jobs.items()
            if self.mode(language) is not None
            for text in texts
        }
        found: dict[tuple[str, str, str], str | float] = {}
        missing: dict[str, list[str]] = {}
        with self._lock:
            for language, text in wanted:
                key = (kind, str(self.mode(language)), text)
                if key in self._cache:
                    found[key] = self._cache[key]
                else:
                    missing.setdefault(key[1], []).append(text)
        lines = {mode: [stage.prepare(t) for t in texts] for mode, texts in missing.items()}
        outputs = self._outputs(kind, stage, lines)
        for mode, texts in missing.items():
            for text, output in zip(texts, outputs[mode], strict=True):
                found[(kind, mode, text)] = stage.read(output)
        # Answered from this call's own results: evicting old entries to make room can
        # never drop one it needs, however large the batch.
        with self._lock:
            for key, answer in found.items():
                if key not in self._cache and len(self._cache) >= CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = answer
        return {
            (language, text): found[(kind, str(self.mode(language)), text)]
            for language, text in wanted
        }

    def _outputs(
        self, kind: str, stage: Stage, lines: dict[str, list[str]]
    ) -> dict[str, list[str]]:
        """Each mode's output lines for its lines: from its resident pipeline where it
        can, else (and after a failure there) from a one-shot run."""
        blocks = {
            mode: block
            for mode, mode_lines in lines.items()
            if self.keep_running
            and (kind, mode) not in self.one_shot
            and (block := stage.block(mode_lines)) is not None
        }
        residents = {mode: self._resident(kind, mode, stage) for mode in blocks}
        for resident in residents.values():
            resident.start()  # every pipeline loads its dictionaries at once
        outputs: dict[str, list[str]] = {}
        for mode, block in blocks.items():
            resident, count = residents[mode], len(lines[mode])
            first = not resident.answered
            try:
                seconds = REQUEST_SECONDS + LINE_SECONDS * count
                answer = stage.unblock(resident.ask(block, seconds))
                outputs[mode] = _line_each(resident.name, answer, count)
            except TranslationError as exc:
                if first:
                    self.one_shot.add((kind, mode))
                log.warning("%s; %s", exc, "one-shot from now on" if first else "one-shot once")
        one_shot = {mode: mode_lines for mode, mode_lines in lines.items() if mode not in outputs}
        outputs.update(_run({mode: stage.command(mode) for mode in one_shot}, one_shot))
        return outputs

    def _resident(self, kind: str, mode: str, stage: Stage) -> Resident:
        with self._lock:
            if (kind, mode) not in self._residents:
                self._residents[(kind, mode)] = Resident(
                    f"{mode} ({kind})", lambda: stage.resident(mode)
                )
            return self._residents[(kind, mode)]


def _words_only(text: str) -> str:
    """What the analyser reads: words (its stream syntax uses ^$/[]@ and more)."""
    return NOT_WORD.sub(" ", text)


def _translator(mode: str) -> list[str]:
    return ["apertium", "-f", "txt", mode]


def _clean(translated: str) -> str:
    """The translation without Apertium's marks on words it could not translate."""
    return " ".join(UNKNOWN_MARK.sub(r"\1", translated).split())


STAGES = {
    "unknown": Stage(_analyser, _resident_analyser, _words_only, _lines_block, str, _unknown_share),
    "english": Stage(_translator, _resident_translator, str, _deformat, _reformat, _clean),
}

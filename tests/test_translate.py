"""Apertium pipelines kept running between calls (``translate.Resident``), against the
one-shot pipelines they replace, with the real Apertium packages: the same answers for
ordinary and odd text, answers that do not depend on earlier requests, replacement of a
dead or hung pipeline, several threads at once, and no process left after ``close``."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sceneseek import Library
from sceneseek.config import Config, LanguageConfig
from sceneseek.language.translate import (
    ENGLISH,
    Resident,
    TranslationError,
    Translator,
    _deformat,
    _reformat,
)

LANGUAGE = LanguageConfig()
QUERIES = [
    line.split("\t")[1]
    for line in (Path(__file__).parent.parent / "bench/language_queries.tsv")
    .read_text(encoding="utf-8")
    .splitlines()
    if line and not line.startswith("#")
]
ODD = [
    "",
    "un perro " * 400,  # very long
    "un perro\x00ladrando",
    "un perro\nladrando\n\nde noche",
    "el gato ^negro$ / <b> * # @ \\ [x] {y} ~z~",
    "\\",
    "[@/etc/passwd]",
    ".[]",
    "ñandú ☃ 🎉 — «comillas»",
    "*perro #perro @perro",
]


def translator(keep_running: bool) -> Translator:
    return Translator(LANGUAGE.pairs, LANGUAGE.english_mode, keep_running, LANGUAGE.one_shot_modes)


def alive(pid: int) -> bool:
    """Whether ``pid`` exists at all (a zombie, ended but not reaped, still does)."""
    return Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def resident() -> Iterator[Translator]:
    kept = translator(keep_running=True)
    yield kept
    kept.close()


def test_the_deformatter_is_apertiums_on_the_text_it_handles() -> None:
    for text in [*QUERIES, "a ^b$ c/d <e> @f \\g [h] {i} *j #k", "ñ 🎉"]:
        ran = subprocess.run(["apertium-destxt"], input=text + "\n", capture_output=True, text=True)
        assert _deformat([text]) == ran.stdout
    for text in ["", "a~b", "a\x00b"]:
        assert _deformat([text]) is None  # left to apertium-destxt itself
    for output in ["The dog\\^.[][\n]", "a\\.[]b[\\]x]\\\\y[]", "*unk #gen @bil.[]"]:
        ran = subprocess.run(["apertium-retxt"], input=output, capture_output=True, text=True)
        assert _reformat(output) == ran.stdout


def test_resident_answers_are_the_one_shot_answers(resident: Translator) -> None:
    one_shot = translator(keep_running=False)
    texts = [*QUERIES[:20], *ODD]
    for text in texts:  # as queries arrive: one at a time
        assert resident.to_english([text], "es") == one_shot.to_english([text], "es"), text
    plain = [*QUERIES[:20], ODD[1], ODD[3], "el gato ^negro$ / <b> * # @ \\ [x] {y}"]
    for language in ("gl", "mk"):  # as ingest asks: a batch (with '' or '~': one-shot)
        for batch in (plain, texts):
            assert resident.to_english(batch, language) == one_shot.to_english(batch, language)
    jobs = {ENGLISH: texts, "es": texts, "ca": texts}
    assert resident.unknown(jobs) == one_shot.unknown(jobs)
    names = {r.name for r in resident.residents() if r.answered}
    assert {"spa-eng (english)", "gl-en (english)", "eng-spa (unknown)"} <= names
    assert resident.one_shot == {("english", "cat-eng")}  # nothing fell back


def test_resident_answers_do_not_depend_on_earlier_requests() -> None:
    """Every mode kept running: the queries one by one in two orders, two answers each.
    cat-eng, whose tagger carries state across requests, is why ``one_shot_modes``."""
    languages = {mode: language for language, mode in LANGUAGE.pairs.items()}
    for mode, language in languages.items():
        if mode in LANGUAGE.one_shot_modes:
            continue
        answers = []
        for order in (QUERIES, QUERIES[::-1]):
            fresh = Translator({language: mode}, LANGUAGE.english_mode)
            answers.append({q: fresh.to_english([q], language)[0] for q in order})
            fresh.close()
        assert answers[0] == answers[1], mode


def test_a_dead_pipeline_is_replaced(resident: Translator) -> None:
    (expected,) = resident.to_english(["un perro ladrando"], "es")
    (spanish,) = [r for r in resident.residents() if r.name == "spa-eng (english)"]
    before = spanish.pids()
    os.kill(before[len(before) // 2], signal.SIGKILL)  # a stage in the middle
    # Found dead before the request (restarted) or during it (answered one-shot, and
    # restarted by the next): the answer is right either way.
    assert resident.to_english(["un perro que ladra"], "es") == ["A dog that barks"]
    assert resident.to_english(["un gato"], "es") == ["A cat"]
    after = spanish.pids()
    assert after and not set(after) & set(before)
    assert not any(alive(pid) for pid in before)  # the old stages were reaped
    assert resident.to_english(["un perro ladrando"], "es") == [expected]


def test_a_hung_pipeline_times_out_and_is_stopped() -> None:
    hung = Resident("hung", lambda: [["sleep", "60"]], start_seconds=0)
    with pytest.raises(TranslationError, match="took over"):
        hung.ask("un perro", 0.5)
    assert hung.pids() == []
    broken = Resident("broken", lambda: [["sh", "-c", "echo no dictionary >&2; exit 3"]])
    with pytest.raises(TranslationError, match="broken stopped: no dictionary"):
        broken.ask("un perro", 5)
    assert broken.pids() == []
    echo = Resident("echo", lambda: [["cat"]], start_seconds=0)
    assert echo.ask("^un$ perro", 5) == "^un$ perro"  # a NUL ends each answer
    echo.close()


def test_threads_share_the_pipelines() -> None:
    kept, alone = translator(keep_running=True), translator(keep_running=True)
    texts = QUERIES[:24]
    expected = [alone.to_english([t], "es")[0] for t in texts]  # one thread
    alone.close()
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: kept.to_english([t], "es")[0], texts))
    kept.close()
    assert got == expected


def test_closing_the_library_ends_every_apertium_process(tmp_path: Path) -> None:
    library = Library(tmp_path / "db", Config(modalities=["ocr"]))
    translation = library.query_translation("un perro ladrando de noche")
    assert translation is not None and "dog" in str(translation.text).lower()
    residents = library.encoders.language.translator.residents()
    pids = [pid for r in residents for pid in r.pids()]
    assert len(residents) >= 2 and pids and all(alive(pid) for pid in pids)
    library.close()
    assert not any(alive(pid) for pid in pids)
    assert library.encoders.language.translator.residents() == []

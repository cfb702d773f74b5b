"""Search across languages with the real detector (py3langid), real Apertium pairs and real
indexes: a Spanish query finds English evidence, an English query finds Spanish on-screen
text, and each installed pair translates a short query into English."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sceneseek import Library
from sceneseek.api import create_app
from sceneseek.config import Config, LanguageConfig
from sceneseek.encoders.base import Observation
from sceneseek.eval.compose import Caption, Card, VideoSpec, compose_cached
from sceneseek.eval.samples import PHRASE_AT, SampleSet
from sceneseek.index.base import SegmentFilter
from sceneseek.ingest import with_english
from sceneseek.language.detect import LanguageDetector, configured, ngram_identifier
from sceneseek.library import IndexReport

LANGUAGE = LanguageConfig()


@pytest.fixture(scope="module")
def reader() -> LanguageDetector:
    return configured(LANGUAGE)


@pytest.mark.parametrize(
    ("language", "query", "expected"),
    [
        ("es", "un gallo cantando", "rooster"),
        ("ca", "un gos bordant", "dog"),
        ("gl", "un can ladrando na rúa", "street"),
        ("eu", "txakur bat zaunka", "dog"),
        ("eo", "pluvo sur la tegmento", "roof"),
        ("is", "börn að leika sér í garðinum", "children"),
        ("mk", "куче што лае", "dog"),
        ("hr", "djeca se igraju u parku", "park"),
    ],
)
def test_each_pair_translates_a_short_query_into_english(
    reader: LanguageDetector, language: str, query: str, expected: str
) -> None:
    (english,) = reader.translator.to_english([query], language)
    assert english is not None and expected in english.lower()


def test_query_languages_are_told_apart(reader: LanguageDetector) -> None:
    queries = {
        "a pet cat": "en",  # the n-grams alone say Catalan
        "drum roll": "en",
        "una jirafa": "es",  # the n-grams alone say Icelandic
        "un perro ladrando de noche": "es",
        "pluvo sur la tegmento": "eo",
        "un chien qui aboie": "fr",
    }
    readings = reader.read(list(queries))
    assert [r.language for r in readings] == list(queries.values())
    assert readings[0].english is None  # English is searched as typed
    assert readings[3].english is not None and "dog" in readings[3].english.lower()
    assert readings[5].english is None  # French: no pair installed


def test_the_unpacked_ngram_model_ranks_as_the_wheels(
    reader: LanguageDetector, tmp_path: Path
) -> None:
    """The model a cold search reads from the cache dir, not the wheel's LZMA copy, ranks
    every text as the wheel's does; a damaged copy is unpacked again."""
    texts = ["a street with bicycles", "una calle con bicicletas", "", "GATE 7 CLOSED", "漢字 ß"]
    wheel = ngram_identifier(reader.languages)
    expected = [wheel.rank(text) for text in texts]
    assert [ngram_identifier(reader.languages, tmp_path).rank(t) for t in texts] == expected
    (unpacked,) = tmp_path.glob("langid-*")
    table = unpacked / "nextmove.npy"  # the memory-mapped one
    written, size = table.stat().st_mtime_ns, table.stat().st_size
    ngram_identifier.cache_clear()  # as a new process would
    assert [ngram_identifier(reader.languages, tmp_path).rank(t) for t in texts] == expected
    assert table.stat().st_mtime_ns == written  # read, not unpacked again
    for damage in (b"not a model", table.read_bytes()[:-4096]):  # a truncated table too
        table.write_bytes(damage)
        ngram_identifier.cache_clear()
        assert [ngram_identifier(reader.languages, tmp_path).rank(t) for t in texts] == expected
        assert table.stat().st_size == size and len(list(tmp_path.iterdir())) == 1
    ngram_identifier.cache_clear()


def test_spanish_query_finds_english_speech_and_says_how(
    indexed: tuple[Path, IndexReport], samples: SampleSet
) -> None:
    library = Library(indexed[0])
    response = library.search("el envío llegará tarde el viernes", top_k=3)
    out = response.to_dict()
    assert out["translation"]["from"] == "es"
    assert "friday" in out["translation"]["text"].lower()
    best = response.results[0]
    assert best.video == str(samples.speech)
    assert best.start <= PHRASE_AT + 1 and best.end >= PHRASE_AT
    assert "friday" in best.evidence["keyword"]["matched"]
    untranslated = library.search("el envío llegará tarde el viernes", top_k=3, translate=False)
    assert untranslated.translation is None
    english = library.search("the shipment will arrive late on Friday", top_k=1)
    assert english.translation is None and english.results[0].video == str(samples.speech)


def test_a_translated_query_is_embedded_once(indexed: tuple[Path, IndexReport]) -> None:
    """Both phrasings in one model call, shared by the text modalities and the visual
    one (ConSE embeds queries with the same e5): the model itself runs, counted."""
    library = Library(indexed[0])
    calls: list[object] = []
    model = library.encoders.text._model  # type: ignore[attr-defined]
    encode = model.encode
    model.encode = lambda *args: calls.append(args) or encode(*args)
    response = library.search("un perro ladrando en el parque", top_k=3)
    assert response.translation is not None and len(calls) == 1
    assert calls[0][0] == ["un perro ladrando en el parque", response.translation.text]
    library.close()


def test_a_language_without_a_pair_is_searched_as_typed(
    indexed: tuple[Path, IndexReport],
) -> None:
    out = Library(indexed[0]).search("un chien qui aboie", top_k=1).to_dict()
    assert out["translation"] == {
        "from": "fr",
        "text": None,
        "note": "no offline translation for fr; searched as typed",
    }


def spanish_sign(directory: Path) -> Path:
    """A silent video of a Spanish caption: on-screen text is the fastest modality."""
    video = directory / "media" / "sign.mp4"
    compose_cached(
        video,
        [Card(4.0, "black card")],
        captions=[Caption("PUERTA CERRADA", 0.5, 3.5)],
        spec=VideoSpec(audio=False),
    )
    return video


def test_the_api_reports_the_translation_and_searches_as_typed_on_request(
    tmp_path: Path,
) -> None:
    library = Library(tmp_path / "db", Config(modalities=["ocr"]))
    assert not library.index([spanish_sign(tmp_path)]).failed
    with TestClient(create_app(library)) as client:
        translated = client.get("/api/search", params={"q": "una puerta cerrada"})
        as_typed = client.get(
            "/api/search", params={"q": "una puerta cerrada", "translate": "false"}
        )
    assert translated.status_code == 200, translated.text
    assert translated.json()["translation"]["from"] == "es"
    assert "door" in translated.json()["translation"]["text"].lower()
    assert as_typed.status_code == 200 and as_typed.json()["translation"] is None


def test_english_keywords_find_spanish_on_screen_text(tmp_path: Path) -> None:
    video = spanish_sign(tmp_path)
    found = {}
    for translate in (True, False):
        config = Config(modalities=["ocr"], language=LanguageConfig(translate_index=translate))
        library = Library(tmp_path / f"db-{translate}", config)
        assert not library.index([video]).failed
        found[translate] = library.index_store.keyword("door", 5, SegmentFilter(), ("ocr",))
        (segment,) = library.index_store.all_segments()
        (shown, *_) = segment.observations["ocr"]
        assert "PUERTA" in shown.text
        assert (shown.language, shown.english is not None) == (
            ("es", True) if translate else (None, False)
        )
    assert found[True] and not found[False]


def test_speech_is_translated_in_its_utterance_language(reader: LanguageDetector) -> None:
    observations = {
        "speech": [
            Observation(0.0, 2.0, "la puerta está cerrada", language="es"),
            Observation(3.0, 5.0, "the door is open", language="en"),
            Observation(6.0, 8.0, "lávate las manos"),  # the file's language: Spanish
        ],
        "sound": [Observation(0.0, 1.0, "Knock")],
    }
    out = with_english(observations, "es", reader)
    spanish, english, unmarked = out["speech"]
    assert spanish.english is not None and "door" in spanish.english.lower()
    assert english.english is None
    assert unmarked.english is not None and "hands" in unmarked.english.lower()
    assert out["sound"] == observations["sound"]

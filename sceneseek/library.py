"""The Python API; the CLI maps onto it one to one.

lib = Library("./lib")
report = lib.index(["footage/"], camera="cam-02", zone="gate")
response = lib.search("a man talking on the phone in a car", top_k=5)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from sceneseek.alerts import alert_store, evaluate_alerts, validate_alert
from sceneseek.config import CameraConfig, Config, MetadataConfig
from sceneseek.encoders.base import VisualEncoder
from sceneseek.errors import EncoderMismatchError, MediaError, QueryError, SceneseekError
from sceneseek.index import backends
from sceneseek.index.alerts import Alert, AlertEvent
from sceneseek.index.base import Index, Mark, StoredSegment, StoredVideo, VideoRecord
from sceneseek.ingest import Encoders, analyse, display_path
from sceneseek.media.decode import content_hash, probe
from sceneseek.media.metadata import VideoMetadata, resolve, zone_named
from sceneseek.media.thumbnail import frame_jpeg
from sceneseek.search.engine import Searcher, SearchResponse
from sceneseek.search.filters import make_filter
from sceneseek.search.query_parser import Chip, parse_query

VIDEO_EXTENSIONS = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".mts",
    ".m2ts",
    ".flv",
    ".wmv",
    ".3gp",
    ".ogv",
}


@dataclass
class IndexReport:
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, cause)
    seconds_of_video: float = 0.0
    events: list[AlertEvent] = field(default_factory=list)  # saved alerts the new videos fired


ProgressFn = Callable[[str, str], None]  # (path, status) after each file


class Library:
    def __init__(self, db: str | Path, config: Config | None = None, backend: str = "embedded"):
        self.path = Path(db)
        self.config = config or Config()
        self.encoders = Encoders(self.config)
        self._backend = backend

    @cached_property
    def index_store(self) -> Index:
        return backends.create(self._backend, self.path)

    def _check_encoders(self, writing: bool) -> None:
        """Refuse to mix vectors from different encoders of the same modality. A modality
        the index has never seen is fine (it just has no vectors yet); writing records it."""
        current = self.encoders.versions()
        stored = self.index_store.encoder_versions()
        differ = [
            f"{role}: index has {stored[role]}, configured {current[role]}"
            for role in sorted(set(stored) & set(current))
            if stored[role] != current[role]
        ]
        if differ:
            raise EncoderMismatchError(
                f"{self.path}: this index was built with different encoders "
                f"({'; '.join(differ)}). Use the encoders it was built with, or index into "
                "a new --db."
            )
        if writing and not set(current) <= set(stored):
            self.index_store.set_encoder_versions({**stored, **current})

    def index(
        self,
        paths: Iterable[str | Path],
        camera: str | None = None,
        zone: str | None = None,
        start: datetime | None = None,
        progress: ProgressFn | None = None,
    ) -> IndexReport:
        """Index files and folders (recursively). Unchanged files are skipped, changed
        ones replaced atomically; a bad file is reported and the batch goes on."""
        self._check_encoders(writing=True)
        report = IndexReport()
        for path in expand_paths(paths):
            status = self._index_one(path, camera, zone, start, report)
            if progress:
                progress(str(path), status)
        return report

    def _index_one(
        self,
        path: Path,
        camera: str | None,
        zone: str | None,
        start: datetime | None,
        report: IndexReport,
    ) -> str:
        key = display_path(path)
        try:
            digest = content_hash(path) if path.is_file() else ""
            if digest and self.index_store.video_hash(key) == digest:
                report.unchanged.append(key)
                return "unchanged"
            info = probe(path)
            where = resolve(path, VideoMetadata(camera, zone, start), self._metadata_sources())
            segments, language = analyse(info, self.config, self.encoders)
            video = VideoRecord(
                key, digest, info.duration, where.camera, where.zone, where.start, language
            )
            self.index_store.replace_video(video, segments)
        except Exception as exc:  # noqa: BLE001 - one bad file must never stop the batch
            cause = exc.cause if isinstance(exc, MediaError) else f"{type(exc).__name__}: {exc}"
            report.failed.append((key, cause))
            self.index_store.record_failure(key, cause)
            return "failed"
        report.indexed.append(key)
        report.seconds_of_video += info.duration
        # Saved alerts run on every newly indexed video, whichever way it came in.
        report.events.extend(self.check_alerts(key))
        return "indexed"

    def search(
        self,
        query: str | None = None,
        top_k: int = 10,
        camera: str | None = None,
        zone: str | None = None,
        time_of_day: str | None = None,
        image: bytes | None = None,
        similar_to: int | None = None,
        offset: int = 0,
        after: str | datetime | None = None,
        before: str | datetime | None = None,
        weekdays: str | None = None,
        video: str | None = None,
        parse: bool = True,
        more_like: Sequence[int] = (),
        not_like: Sequence[int] = (),
    ) -> SearchResponse:
        """Moments matching a text query, an example image, or an indexed segment
        (exactly one of ``query``, ``image``, ``similar_to``). With ``parse``, filters
        the query states in words ("at night", "on camera 2") are applied too; explicit
        arguments win over them. ``more_like``/``not_like`` are segment ids the user
        marked relevant / not relevant in an earlier round (successive search)."""
        given = [x is not None for x in (query, image, similar_to)]
        if sum(given) != 1:
            raise QueryError("give exactly one of a text query, an image, or a segment id")
        make_filter(camera, zone, time_of_day, after, before, weekdays, video)  # validate early
        if not (self.path / "index.sqlite").exists():
            raise SceneseekError(f"{self.path}: no index here yet; run `sceneseek index` first")
        self._check_encoders(writing=False)
        searcher = Searcher(
            self.index_store, self.encoders, self.config.search, list(self.config.modalities)
        )
        chips: list[Chip] = []
        asked = query
        if query is not None and parse:
            cameras, zones = self.index_store.cameras_and_zones()
            stated = parse_query(query, cameras, zones, datetime.now().astimezone())
            query, chips = stated.text, stated.chips
            camera, zone = camera or stated.camera, zone or stated.zone
            time_of_day = time_of_day or stated.time_of_day
            after, before = after or stated.after, before or stated.before
        where = make_filter(camera, zone, time_of_day, after, before, weekdays, video)
        if query is not None:
            for segment_id in [*more_like, *not_like]:
                self.segment(segment_id)  # KeyError for an unknown id
            response = searcher.search(query, top_k, where, offset, more_like, not_like)
        elif image is not None:
            vectors = image_vectors(image, self.encoders.visual)
            response = searcher.search_vectors("(image)", vectors, top_k, where, offset)
        else:
            assert similar_to is not None
            self.segment(similar_to)  # KeyError for an unknown id
            vectors = self.index_store.segment_vectors(similar_to)
            response = searcher.search_vectors(
                f"(similar to segment {similar_to})", vectors, top_k, where, offset, similar_to
            )
        response.filters = where
        response.chips = chips
        if asked is not None:
            response.searched = response.query
            response.query = asked  # as typed; the chips say which words became filters
        return response

    def add_camera(
        self,
        camera_id: str,
        name: str | None = None,
        zone: str | None = None,
        timezone: str = "UTC",
    ) -> None:
        """Register a camera in the index: its default zone and the timezone in which its
        videos' start times (file names, sidecars without an offset) are read."""
        try:
            zone_named(timezone)
        except ValueError as exc:
            raise SceneseekError(f"timezone {exc}") from None
        if not camera_id.strip():
            raise SceneseekError("a camera needs a non-empty id")
        self.index_store.set_camera(
            camera_id, CameraConfig(name=name, zone=zone, timezone=timezone)
        )

    def cameras(self) -> dict[str, CameraConfig]:
        """The registry: cameras from the config, overridden by those added to the index."""
        return {**self.config.metadata.cameras, **self.index_store.cameras()}

    def _metadata_sources(self) -> MetadataConfig:
        return self.config.metadata.model_copy(update={"cameras": self.cameras()})

    def videos(self) -> list[StoredVideo]:
        return self.index_store.videos()

    def video(self, video_id: int) -> StoredVideo:
        for video in self.index_store.videos():
            if video.id == video_id:
                return video
        raise KeyError(f"no video with id {video_id}")

    def segment(self, segment_id: int) -> StoredSegment:
        found = self.index_store.segments([segment_id])
        if segment_id not in found:
            raise KeyError(f"no segment with id {segment_id}")
        return found[segment_id]

    def thumbnail(self, segment_id: int) -> bytes:
        """JPEG of a segment's keyframe, cached in the index directory."""
        segment = self.segment(segment_id)
        cached = self.path / "thumbnails" / f"{segment_id}.jpg"
        if cached.exists():
            return cached.read_bytes()
        jpeg = frame_jpeg(Path(segment.video), segment.keyframe)
        cached.parent.mkdir(exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(jpeg)
        tmp.replace(cached)
        return jpeg

    def mark(self, query: str, segment_id: int, relevant: bool) -> None:
        """Record an operator's judgement of a result (feeds successive search)."""
        self.segment(segment_id)
        self.index_store.add_mark(query, segment_id, relevant)

    def marks(self) -> list[Mark]:
        return self.index_store.marks()

    def stats(self) -> dict[str, int]:
        return self.index_store.stats()

    # -- alerts: saved queries checked on every newly indexed video (sceneseek.alerts) --
    def add_alert(
        self,
        query: str,
        camera: str | None = None,
        zone: str | None = None,
        time_of_day: str | None = None,
        threshold: float = 2.0,
        webhook: str | None = None,
    ) -> int:
        """Save a query that fires on newly indexed video (see ``check_alerts``); the
        threshold is on the moment score that search shows. Returns the alert id."""
        validate_alert(query, threshold, time_of_day, webhook)
        store = alert_store(self)
        return store.add_alert(
            " ".join(query.split()), threshold, camera or None, zone or None, time_of_day, webhook
        )

    def alerts(self) -> list[Alert]:
        return alert_store(self).alerts()

    def remove_alert(self, alert_id: int) -> None:
        """Delete an alert and its events; KeyError for an unknown id."""
        if not alert_store(self).remove_alert(alert_id):
            raise KeyError(f"no alert with id {alert_id}")

    def alert_events(self, alert_id: int | None = None, limit: int = 1000) -> list[AlertEvent]:
        """Stored events, newest first."""
        return alert_store(self).alert_events(alert_id, limit)

    def check_alerts(self, video: str | Path) -> list[AlertEvent]:
        """Evaluate every alert on one indexed video: store the new events and POST each
        to its alert's webhook (5 s timeout; failures are logged, never raised)."""
        return evaluate_alerts(self, video)

    def close(self) -> None:
        if "index_store" in self.__dict__:
            self.index_store.close()


def image_vectors(data: bytes, visual: VisualEncoder) -> dict[str, np.ndarray]:
    """Query vectors for an example image: its image feature (image↔image k-NN) and its
    text-space projection (matching segments described the same way)."""
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except Image.DecompressionBombError:
        raise QueryError("the image is too large (more than ~90 megapixels)") from None
    except (OSError, ValueError):
        raise QueryError(
            "the upload is not an image this tool can read (use JPEG, PNG, WebP, GIF or BMP)"
        ) from None
    scale = visual.frame_short_side / min(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    rgb = np.asarray(picture.convert("RGB").resize(size, Image.Resampling.BILINEAR))
    summary = visual.summarize(visual.encode_frames(rgb[None]))
    return {"image": summary.image_vector, "visual": summary.text_vector}


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders walked recursively for video files, in sorted order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS))
        else:
            found.append(path)
    return list(dict.fromkeys(found))

"""The Python API; the CLI maps onto it one to one.

lib = Library("./lib")
report = lib.index(["footage/"], camera="cam-02", zone="gate")
response = lib.search("a man talking on the phone in a car", top_k=5)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ValidationError

from sceneseek import versions
from sceneseek.alerts import SavedAlerts, alert_store
from sceneseek.config import CameraConfig, Config, MetadataConfig, validation_causes
from sceneseek.encoders.base import VisualEncoder
from sceneseek.encoders.zones import CameraZone
from sceneseek.errors import EncoderMismatchError, MediaError, QueryError, SceneseekError
from sceneseek.index import backends
from sceneseek.index.alerts import Alert, AlertEvent
from sceneseek.index.base import EventConditions, Mark, StoredEvent, StoredSegment, StoredVideo
from sceneseek.index.catalogue import has_index, require_index
from sceneseek.index.check import CheckReport, check_index
from sceneseek.index.snapshot import Snapshot, export_snapshot
from sceneseek.index.store import Store, recorded_backend, refuse_other_backend
from sceneseek.ingest import Encoders, IndexReport, Ingest, ProgressFn
from sceneseek.ingest_ray import RayCluster, analyse_on_ray
from sceneseek.learning import Learning, Uncertain, active_fusion
from sceneseek.media.decode import content_hash, regular_file
from sceneseek.media.metadata import VideoMetadata, zone_named
from sceneseek.media.picture import decode_picture
from sceneseek.media.thumbnail import frame_jpeg, marked_frame_jpeg
from sceneseek.search.engine import QueryTranslation, Searcher, SearchResponse, about_people
from sceneseek.search.filters import make_filter, plain_text
from sceneseek.search.learn import LearnReport
from sceneseek.search.query_parser import Chip, parse_query
from sceneseek.search.translation import query_translation


class Library:
    def __init__(self, db: str | Path, config: Config | None = None, backend: str | None = None):
        self.path = Path(db)
        self.config = config or Config()
        self.encoders = Encoders(self.config)
        self._backend = backend or recorded_backend(self.path) or self.config.index.backend
        self._opened: int | None = None  # inode of the index directory when opened
        # Files whose content was checked against the index, by path: the status they had
        # then (device, inode, size, mtime, ctime), so that serving them again costs a stat.
        self._verified_media: dict[str, tuple[int, ...]] = {}

    @cached_property
    def index_store(self) -> Store:
        self._opened = _identity(self.path)
        refuse_other_backend(self.path, self._backend)
        return backends.create(self._backend, self.path, self.config.index)

    @property
    def backend(self) -> str:
        return self._backend

    def _follow_swap(self) -> None:
        """Reopen when `reindex` has swapped a new index into this directory since it was
        opened (the old files stay open, but new reads must not mix the two)."""
        if "index_store" in self.__dict__ and _identity(self.path) != self._opened:
            del self.__dict__["index_store"]  # the old one is closed when garbage collected

    def _check_encoders(self, writing: bool) -> None:
        """Refuse to mix vectors from different encoders of the same modality. A modality
        the index has never seen is fine (it just has no vectors yet); writing records it."""
        self._follow_swap()
        current = self.encoders.versions()
        stored = self.index_store.encoder_versions()
        differ = versions.differing(current, stored)
        if differ:
            raise EncoderMismatchError(
                versions.mismatch_message(self.path, self.index_store, differ)
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
        ray: RayCluster | None = None,
    ) -> IndexReport:
        """Index files and folders (recursively). Unchanged files are skipped, changed
        ones replaced atomically; a bad file is reported and the batch goes on. With
        ``ray``, decoding and encoding run on a Ray cluster's workers; hashing, skipping
        and every write to the index stay in this process."""
        self._check_encoders(writing=True)
        ingest = Ingest(
            self.index_store,
            self.config,
            self.encoders,
            self._metadata_sources(),
            self.check_alerts,
        )
        analyser = None
        if ray is not None:
            expected = self.encoders.versions()
            analyser = partial(analyse_on_ray, config=self.config, cluster=ray, versions=expected)
        return ingest.run(paths, VideoMetadata(camera, zone, start), progress, analyser)

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
        translate: bool = True,
        event_zone: str | None = None,
        min_dwell: float | None = None,
        min_count: int | None = None,
    ) -> SearchResponse:
        """Moments matching a text query, an example image, or an indexed segment
        (exactly one of ``query``, ``image``, ``similar_to``). With ``parse``, filters
        the query states in words ("at night", "on camera 2") are applied too; explicit
        arguments win over them. A text query about people that states a camera zone
        (``event_zone``), a least time stayed there (``min_dwell``, seconds) or a least
        number of people (``min_count``) searches the people events instead, each result
        spanning one event. ``more_like``/``not_like`` are segment ids the user
        marked relevant / not relevant in an earlier round (successive search). With
        ``translate`` (and ``language.translate_queries``), a query that is not English is
        searched together with its English translation (``response.translation``)."""
        given = [x is not None for x in (query, image, similar_to)]
        if sum(given) != 1:
            raise QueryError("give exactly one of a text query, an image, or a segment id")
        query = plain_text(query) if query is not None else None
        make_filter(camera, zone, time_of_day, after, before, weekdays, video)  # validate early
        require_index(self.path)
        self._check_encoders(writing=False)
        fusion = active_fusion(self.index_store, self.config.search)
        searcher = Searcher(
            self.index_store, self.encoders, fusion.search, list(self.config.modalities)
        )
        chips: list[Chip] = []
        asked = query
        if query is not None and parse:
            cameras, zones = self.index_store.cameras_and_zones()
            drawn = self.event_zones() if about_people(query) else None
            stated = parse_query(query, cameras, zones, datetime.now().astimezone(), drawn)
            query, chips = stated.text, stated.chips
            camera, zone = camera or stated.camera, zone or stated.zone
            time_of_day = time_of_day or stated.time_of_day
            after, before = after or stated.after, before or stated.before
            event_zone = event_zone or stated.event_zone
            min_dwell = min_dwell if min_dwell is not None else stated.min_dwell
            min_count = min_count if min_count is not None else stated.min_count
        where = make_filter(camera, zone, time_of_day, after, before, weekdays, video)
        conditions = EventConditions(event_zone and plain_text(event_zone), min_dwell, min_count)
        translation = None
        if query is not None and translate:
            translation = self.query_translation(query)
        if query is not None:
            for segment_id in [*more_like, *not_like]:
                self.segment(segment_id)  # KeyError for an unknown id
            english = translation.text if translation else None
            if conditions.is_empty:
                response = searcher.search(
                    query, top_k, where, offset, more_like, not_like, english
                )
            else:
                response = searcher.search_events(query, top_k, where, conditions, offset, english)
        elif image is not None:
            vectors = image_vectors(
                image, self.encoders.visual, self.config.search.max_image_pixels
            )
            response = searcher.search_vectors("(image)", vectors, top_k, where, offset)
        else:
            assert similar_to is not None
            self.segment(similar_to)  # KeyError for an unknown id
            vectors = self.index_store.segment_vectors(similar_to)
            response = searcher.search_vectors(
                f"(similar to segment {similar_to})", vectors, top_k, where, offset, similar_to
            )
        response.filters = where
        response.events = conditions
        response.chips = chips
        response.translation = translation
        if asked is not None:
            response.searched = response.query
            response.query = asked  # as typed; the chips say which words became filters
        return response

    def query_translation(self, query: str) -> QueryTranslation | None:
        """The query's language and English translation; None for English, for a
        translation that changes nothing (a name, a word both languages share), and when
        ``language.translate_queries`` is off."""
        return query_translation(query, self.encoders)

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
        """The registry: cameras from the config, overridden by those added to the index,
        each with its zones from both (the index's winning a name clash), and cameras
        that only have zones drawn in the index."""
        configured = self.config.metadata.cameras
        registered = self.index_store.cameras()
        drawn = self.index_store.zones()
        registry = {}
        for camera_id in [*configured, *registered, *drawn]:
            camera = registered.get(camera_id) or configured.get(camera_id) or CameraConfig()
            zones = configured[camera_id].zones if camera_id in configured else {}
            zones = {**zones, **drawn.get(camera_id, {})}
            registry[camera_id] = camera.model_copy(update={"zones": zones})
        return registry

    def add_zone(
        self,
        camera_id: str,
        name: str,
        points: str | Sequence[Sequence[float]],
        resolution: str | None = None,
    ) -> CameraZone:
        """Draw (or redraw) a named zone on a camera's picture, kept in the index:
        ``points`` in frame fractions ("x1,y1 x2,y2 ..." or pairs), or pixels of
        ``resolution`` (WIDTHxHEIGHT or 1080p ...), checked as the config's zones are. The
        camera need not be registered nor have footage yet. People entering, leaving and
        loitering in it become events of that camera's videos indexed from now on."""
        if not camera_id.strip():
            raise SceneseekError("a camera needs a non-empty id")
        try:
            drawn = CameraConfig(zones={name: {"points": points, "resolution": resolution}})
        except ValidationError as exc:
            raise SceneseekError(f"camera {camera_id!r}: {validation_causes(exc)}") from None
        self.index_store.set_zone(camera_id, name, drawn.zones[name])
        return next(z for z in self.zones(camera_id) if z.name == name)

    def remove_zone(self, camera_id: str, name: str) -> CameraZone | None:
        """Remove a zone drawn in the index; the config's zone of that name, which then
        applies again, if there is one. KeyError when the camera has no such zone; a
        zone only in the config is refused (the config file is the place to change it)."""
        if not self.index_store.remove_zone(camera_id, name):
            configured = self.config.metadata.cameras.get(camera_id)
            if configured is not None and name in configured.zones:
                raise SceneseekError(
                    f"zone {name!r} of camera {camera_id!r} is drawn in the config file,"
                    " not in the index: remove it there"
                )
            raise KeyError(f"camera {camera_id!r} has no zone {name!r}")
        return next((z for z in self.zones(camera_id) if z.name == name), None)

    def zones(self, camera_id: str | None = None) -> list[CameraZone]:
        """Every camera's zones (or one camera's), from the config and the index, as
        ingest hands them to the people reader (``cameras``)."""
        configured = self.config.metadata.cameras
        drawn = self.index_store.zones()
        listed = []
        for camera, entry in self.cameras().items():
            if camera_id not in (None, camera):
                continue
            for name, zone in entry.zones.items():
                in_index = name in drawn.get(camera, {})
                in_config = camera in configured and name in configured[camera].zones
                source: Literal["config", "index"] = "index" if in_index else "config"
                listed.append(
                    CameraZone(camera, name, tuple(zone.points), source, in_index and in_config)
                )
        return listed

    def camera_segment(self, camera_id: str) -> int | None:
        """A segment whose keyframe shows the camera's picture (the middle one of its
        newest video), to draw zones over; None before the camera has footage."""
        return self.index_store.camera_segment(camera_id)

    def event_zones(self) -> list[str]:
        """The zones drawn on any camera, whose names a query may state as where a people
        event happened."""
        return sorted({name for camera in self.cameras().values() for name in camera.zones})

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
        found = self.index_store.segments([segment_id]) if is_row_id(segment_id) else {}
        if segment_id not in found:
            raise KeyError(f"no segment with id {segment_id}")
        return found[segment_id]

    def media_file(self, stored: str) -> Path:
        """The file of an indexed video, safe to serve: a regular file still reached at
        the recorded path without symbolic links (paths are stored resolved, so a link
        found there now was planted after indexing and may point anywhere), with the
        content the index recorded (a file replaced by a hard link to, or a copy of,
        another file is refused). MediaError saying which, otherwise."""
        path = Path(stored)
        if os.path.realpath(path) != stored:
            raise MediaError(path, "the file or a folder above it became a symbolic link")
        status = regular_file(path)
        # ctime too: every write or re-link changes it, and no system call can set it back
        seen = (
            status.st_dev,
            status.st_ino,
            status.st_size,
            status.st_mtime_ns,
            status.st_ctime_ns,
        )
        if self._verified_media.get(stored) == seen:
            return path
        if content_hash(path) != self.index_store.video_hash(stored):
            raise MediaError(
                path,
                "the file is not the one that was indexed (replaced or changed since); "
                "index it again to serve it",
            )
        self._verified_media[stored] = seen
        return path

    def thumbnail(self, segment_id: int) -> bytes:
        """JPEG of a segment's keyframe, cached in the index directory."""
        segment = self.segment(segment_id)
        return self._cached_thumbnail(
            f"{segment_id}.jpg", lambda: frame_jpeg(Path(segment.video), segment.keyframe)
        )

    def event(self, event_id: int) -> StoredEvent:
        found = self.index_store.event(event_id) if is_row_id(event_id) else None
        if found is None:
            raise KeyError(f"no event with id {event_id}")
        return found

    def event_thumbnail(self, event_id: int) -> bytes:
        """JPEG of a people event's middle with its people's boxes there, their paths
        over the event and its zone drawn, cached beside the keyframes (event ids, like
        segment ids, are never reused)."""
        event = self.event(event_id)
        middle = (event.start + event.end) / 2
        tracks = self.index_store.tracks(event.video_id, event.tracks)
        boxes = [min(t.boxes, key=lambda b: abs(b[0] - middle))[1:] for t in tracks]
        paths = [
            [(x + w / 2, y + h) for t, x, y, w, h in track.boxes if event.start <= t <= event.end]
            for track in tracks
        ]
        camera = self.cameras().get(event.camera or "")
        drawn = camera.zones.get(event.zone) if camera and event.zone else None
        zone = drawn.points if drawn else []
        return self._cached_thumbnail(
            f"event-{event_id}.jpg",
            lambda: marked_frame_jpeg(Path(event.video), middle, boxes, paths, zone),
        )

    def _cached_thumbnail(self, name: str, make: Callable[[], bytes]) -> bytes:
        cached = self.path / "thumbnails" / name
        if cached.exists():
            return cached.read_bytes()
        jpeg = make()
        cached.parent.mkdir(exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(jpeg)
        tmp.replace(cached)
        return jpeg

    def mark(self, query: str, segment_id: int, relevant: bool) -> Mark:
        """Record an operator's judgement of a result, with the per-modality evidence the
        search had for it and the encoder and fusion versions, so `learn` can train on it."""
        self.segment(segment_id)  # KeyError for an unknown id
        self._check_encoders(writing=False)
        return self._learning().mark(query, segment_id, relevant)

    def marks(self) -> list[Mark]:
        return self.index_store.marks()

    def learn(self, dry_run: bool = False) -> LearnReport:
        """Fit the fusion weights on the marks; adopted only if better on held-out queries."""
        self._check_encoders(writing=False)
        return self._learning().learn(dry_run)

    def uncertain(self, limit: int = 20) -> list[Uncertain]:
        """Unmarked results of stored queries nearest the relevant/irrelevant boundary."""
        return self._learning().uncertain(limit)

    def _learning(self) -> Learning:
        """The marks service over the index open now (a reindex swaps it)."""
        return Learning(self.index_store, self.encoders, self.config, self.search)

    def models(self) -> versions.ModelsReport:
        """Encoder name@version per role (configured and in the index), the fusion in use
        and the learned ones, the index format and backend, and any pending reindex."""
        configured = self.encoders.versions()
        fusion = self.fusion_version()
        return versions.models(self.path, self.index_store, configured, fusion, self.backend)

    def reindex(
        self,
        progress: ProgressFn | None = None,
        drop_failed: bool = False,
        even_if_current: bool = False,
    ) -> versions.ReindexReport:
        """Re-encode every video with the configured encoders into a new index beside this
        one, resumably, then swap it in atomically (see ``sceneseek.versions``); with
        ``even_if_current`` also when those encoders built it (zones drawn since)."""
        require_index(self.path)  # before opening the index would create one
        # The registry of this index (its cameras and zones reach the new one only at
        # the swap): the people reader of the re-encoding needs the zones drawn here.
        registry = self.config.model_copy(update={"metadata": self._metadata_sources()})
        report = versions.reindex(
            self.path,
            self.index_store,
            registry,
            self.encoders.versions(),
            lambda staging, config: Library(staging, config, self.backend),
            progress,
            drop_failed,
            even_if_current,
        )
        if report.swapped:
            self.close()
            self.__dict__.pop("index_store", None)
        return report

    def export_snapshot(self, archive: Path) -> Snapshot:
        """A consistent tar.gz copy of the index (see ``sceneseek.index.snapshot``),
        with the vectors of an index that keeps them outside the catalogue (Milvus)."""
        vectors = self.index_store.vector_store.exported_vectors() if has_index(self.path) else None
        return export_snapshot(self.path, archive, vectors)

    def fusion_version(self) -> str:
        """The version of the fusion that ranks searches now."""
        return active_fusion(self.index_store, self.config.search).version

    def stats(self) -> dict[str, int]:
        return self.index_store.stats()

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the index agrees with itself (SQLite integrity, keyword rows, vectors
        of every segment, the vector store against SQLite); with ``repair``, rebuild what
        is derived and mark for re-analysis what is not (``sceneseek.index.check``)."""
        require_index(self.path)
        return check_index(self.path, lambda: self.index_store, repair)

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
        return self._saved_alerts().add(query, camera, zone, time_of_day, threshold, webhook)

    def alerts(self) -> list[Alert]:
        return alert_store(self.index_store).alerts()

    def remove_alert(self, alert_id: int) -> None:
        """Delete an alert and its events; KeyError for an unknown id."""
        if not is_row_id(alert_id) or not alert_store(self.index_store).remove_alert(alert_id):
            raise KeyError(f"no alert with id {alert_id}")

    def alert_events(self, alert_id: int | None = None, limit: int = 1000) -> list[AlertEvent]:
        """Stored events, newest first."""
        return alert_store(self.index_store).alert_events(alert_id, limit)

    def check_alerts(self, video: str | Path) -> list[AlertEvent]:
        """Evaluate every alert on one indexed video: store the new events and POST each
        to its alert's webhook (5 s timeout; failures are logged, never raised)."""
        return self._saved_alerts().evaluate(video)

    def _saved_alerts(self) -> SavedAlerts:
        """The alerts service over the index open now, running this library's search."""
        return SavedAlerts(self.index_store, self.search, self.config.alerts.webhook_hosts)

    def close(self) -> None:
        if "index_store" in self.__dict__:
            self.index_store.close()
        self.encoders.close()


def image_vectors(data: bytes, visual: VisualEncoder, max_pixels: int) -> dict[str, np.ndarray]:
    """Query vectors for an example image: its image feature (image↔image k-NN) and its
    text-space projection (matching segments described the same way)."""
    rgb = decode_picture(data, visual.frame_short_side, max_pixels)
    summary = visual.summarize(visual.encode_frames(rgb[None]))
    return {"image": summary.image_vector, "visual": summary.text_vector}


def _identity(directory: Path) -> int | None:
    """Which directory sits at this path now (its inode), to notice a swap."""
    try:
        return os.stat(directory).st_ino
    except FileNotFoundError:
        return None


def is_row_id(value: int) -> bool:
    """Whether ``value`` fits SQLite's 64-bit integers (larger ids cannot exist, and
    binding them raises OverflowError)."""
    return -(2**63) <= value < 2**63

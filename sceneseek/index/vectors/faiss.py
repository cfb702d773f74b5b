"""The Faiss vector store of the embedded backend: one per index directory, one
``ModalityVectors`` per modality, kept consistent with the catalogue's ``vectors`` table
(the source of truth), through a connection the catalogue gives it.

Why it looks like this:

* **Exact below a threshold, IVF-SQ8 above.** Under ``ann_threshold`` vectors (50k by
  default) a brute-force scan takes a few milliseconds and is exact, so nothing is
  approximated. Above it a quantised IVF index (``IndexIVFScalarQuantizer``, 8 bits per
  dimension: 384 B per 384-d vector) is trained in a background thread while queries
  keep using the exact scan; it is swapped in when ready and retrained (again in the
  background) each time the collection grows ``retrain_growth`` times past the size it
  was trained on. Its inverted lists are written to a file and memory-mapped, with the
  changes since in memory beside them (``ivf.IvfIndex``): every modality's codes at 10M
  segments would not fit in RAM. HNSW was not chosen: its graph alone costs ~256 B per vector and
  building it for 1M vectors on two cores takes many minutes. IVF-PQ (48 B codes), used
  before, ranked near-duplicates so loosely that at 10M segments 5 000 candidates per
  query had to be re-scored from the memory-mapped file, which the page cache cannot
  hold beside the catalogue: those random reads were the latency's tail. An index
  saved with PQ codes is retrained into SQ8 in the background when opened (exact
  search meanwhile); the manifest records the kind.
* **Exact re-ranking of a few candidates.** SQ8 scores are within about 1/255 of the
  exact ones, so only the best few dozen candidates are re-scored with the exact float32
  vectors, and the returned scores are exact cosines. Those vectors live in an
  append-only file that is memory-mapped, so they cost page cache (evictable, shared),
  not process memory, and opening an index does not read every vector BLOB from SQLite.
* **Filters.** The catalogue gives the allowed segments as a bitmap over segment ids
  (its filter columns). When few are allowed (at most ``exact_filter_rows``) their
  exact vectors are gathered and scanned: exact, and faster than probing an IVF index
  for the rare allowed codes. Otherwise the IVF index searches with that bitmap as its
  ``IDSelector`` (packed, never turned into a list of ids; a code is scored only when
  its id is allowed), ``nprobe`` raised with the selectivity (``IndexPolicy.nprobe_for``)
  so enough allowed codes are visited.
* **Crash safety.** Every vector write bumps ``vector_generation`` in SQLite's ``meta``
  and logs the segment ids it touched (``vector_log``) inside the same transaction (see
  ``transaction``); memory is changed only after the commit. Checkpoints (at close and
  every 10 % of growth) write the files and then, atomically, a manifest naming the
  generation they reflect. On open, files whose manifest lags SQLite are brought up to
  date by re-reading the logged segments; anything else (no or a damaged manifest, a
  gap in the log, files of another library) rebuilds from SQLite, reusing the old
  index's trained quantiser when it is still readable. So the files can lag SQLite,
  never disagree with it. ``verify`` compares the store with SQLite vector by vector.
* **Other processes.** ``serve`` runs beside ``index`` and ``watch``, which write the
  same SQLite file. Every read first compares SQLite's ``data_version`` (it moves only
  when another connection commits: one pragma per search when nothing changed) and, when
  the vector generation moved, applies the logged segments (or loads the writer's saved
  files when its checkpoint trimmed the log). A store that followed another process's
  writes never saves: the files are that writer's to append to.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import mmap
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sceneseek.config import IndexConfig
from sceneseek.faults import crash_point
from sceneseek.index.catalogue import Catalogue
from sceneseek.index.vectors.base import Allowed, StoredVectors, VectorChanges, VectorSource
from sceneseek.index.vectors.ivf import IvfIndex, build, read, untrained

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
ANN_KIND = "ivf-sq8"  # what the manifest's ANN files hold; other kinds are retrained
ANN_FILES = ("ann", "ann_data", "ann_recent", "ann_stale")  # an entry's IvfIndex files
SPILL_BYTES = 1 << 28  # a rebuild from SQLite writes a modality's rows out at this size


@dataclass(frozen=True)
class IndexPolicy:
    """When and how the store switches from exact search to a quantised index."""

    ann_threshold: int = 50_000  # live vectors above which an IVF-SQ8 index is trained
    retrain_growth: float = 4.0  # retrain once the collection is this many times larger
    train_points_per_list: int = 48  # k-means sample per inverted list (faiss wants ≥ 39)
    # Probes and candidates measured with SQ8 (1 024 lists) on 100 tuning queries apart
    # from the 200 that bench/scale.py reports (`--tune`). At 1M e5-like segments
    # recall@10 1.000 needed 16 lists unfiltered, 32 at 50 %, 128 at 10 %, 256 at 1 %,
    # and 20 candidates re-scored (10 gave 0.95). At 10M: 1/64 of the lists gave 0.995
    # unfiltered and 0.997 at 50 % (24 lists), 0.999 at 10 % (64); 1/32 0.999 at both;
    # at 1 % a cap of 1/8 of the lists kept 1.000 with half the bitmap checks of 1/4; 20
    # candidates kept 0.999 too. Chosen: 1/64 and selectivity^-0.75 (16 / 27 / 90 / 128
    # lists at 100 / 50 / 10 / 1 %, each at or above a tuned point), for p99 under load.
    probe_fraction: float = 1 / 64  # share of the inverted lists probed per query
    min_nprobe: int = 16
    filter_probe_exponent: float = 0.75  # nprobe grows as selectivity^-this (nprobe_for)
    max_probe_fraction: float = 1 / 8  # and probes at most this share of the lists
    rerank_factor: int = 4  # IVF candidates re-scored exactly per wanted result
    min_rerank: int = 50  # at least this many
    exact_filter_rows: int = 2_000  # filters allowing at most this many rows scan exactly
    checkpoint_rows: int = 20_000  # unsaved rows that trigger a checkpoint (or 10 % growth)
    # ... or this many bytes of unsaved rows (held in memory until then): at 10M segments
    # of all seven modalities (14 KB each) 10 % growth would be 14 GB.
    checkpoint_bytes: int = 1 << 30
    # A save rewrites a modality's mapped IVF lists once the codes added or removed since
    # they were written reach this share of them (before: small files beside them).
    merge_fraction: float = 0.1

    def lists_for(self, count: int) -> int:
        """About 2·√n lists, at most 1 024: a query scans the same share of the codes
        (``probe_fraction``) however many there are, but adding a vector compares it
        with every centroid, so at 10M segments 4 096 lists made the build's adds cost
        four times as much (n·lists·dim: 30 TFLOP, most of an hour on two cores)."""
        return int(min(1024, max(32, 2 * math.sqrt(count))))

    def nprobe_for(self, nlist: int, selectivity: float = 1.0) -> int:
        """Lists to probe: a filter's nearest allowed vectors lie farther out, in more
        lists. Capped: under a selective filter every probed list still costs a bitmap
        check per code (10M of them at 10M segments when all lists are probed)."""
        wanted = max(self.min_nprobe, nlist * self.probe_fraction)
        widened = wanted / selectivity**self.filter_probe_exponent
        return int(
            min(nlist, math.ceil(max(wanted, min(widened, nlist * self.max_probe_fraction))))
        )

    def candidates_for(self, k: int) -> int:
        """IVF candidates to re-score exactly: SQ8 ranks near-duplicates almost as the
        exact scores do, so a few per wanted result recover the exact top k."""
        return max(self.min_rerank, k * self.rerank_factor)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class ModalityVectors:
    """One modality's vectors: exact rows (memory-mapped base + in-memory tail), the row
    of each segment id, and optionally a trained IVF-SQ8 index over the live rows."""

    def __init__(self, name: str, dim: int, policy: IndexPolicy) -> None:
        self.name = name
        self.dim = dim
        self.policy = policy
        self.base: np.ndarray = np.zeros((0, dim), np.float32)  # memory-mapped once saved
        self.base_file: str | None = None
        self.tail = np.zeros((0, dim), np.float32)  # rows added since the last checkpoint
        self.tail_rows = 0
        self.ids = np.zeros(0, np.int64)  # segment id per row; -1 once removed
        self.id_buffer = np.zeros(0, np.int64)  # ids is a prefix view of it (cheap appends)
        self.row_of = np.full(0, -1, np.int64)  # dense: segment ids are SQLite rowids
        self.live = 0
        self.ann: IvfIndex | None = None
        self.trained_on = 0  # live count when the ANN index was trained
        self.training: threading.Thread | None = None
        self.removed_while_training: list[int] = []
        self.sample_cache: np.ndarray | None = None

    # -- rows -----------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return len(self.base) + self.tail_rows

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """Exact vectors of ``rows`` (base rows read from the memory map)."""
        in_base = rows < len(self.base)
        out = np.empty((len(rows), self.dim), np.float32)
        if in_base.all():
            order = np.argsort(rows)  # sequential page access
            out[order] = self.base[rows[order]]
            return out
        out[in_base] = self.base[rows[in_base]]
        out[~in_base] = self.tail[rows[~in_base] - len(self.base)]
        return out

    def append(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        needed = self.tail_rows + len(ids)
        if needed > len(self.tail):
            grown = np.zeros((max(needed, 2 * len(self.tail), 1024), self.dim), np.float32)
            grown[: self.tail_rows] = self.tail[: self.tail_rows]
            self.tail = grown
        self.tail[self.tail_rows : needed] = matrix
        first_row = self.rows
        self.tail_rows = needed
        if first_row + len(ids) > len(self.id_buffer) or self.ids.base is not self.id_buffer:
            grown_ids = np.full(max(first_row + len(ids), 2 * first_row, 1024), -1, np.int64)
            grown_ids[:first_row] = self.ids
            self.id_buffer = grown_ids
        self.id_buffer[first_row : first_row + len(ids)] = ids
        self.ids = self.id_buffer[: first_row + len(ids)]  # a view: writes reach the buffer
        top = int(ids.max()) + 1
        if top > len(self.row_of):
            grown_map = np.full(max(top, 2 * len(self.row_of)), -1, np.int64)
            grown_map[: len(self.row_of)] = self.row_of
            self.row_of = grown_map
        self.row_of[ids] = np.arange(first_row, first_row + len(ids))
        self.live += len(ids)
        self.sample_cache = None

    def remove(self, segment_ids: np.ndarray) -> np.ndarray:
        """Forget these ids; returns the ones this modality held."""
        known = segment_ids[segment_ids < len(self.row_of)]
        known = known[self.row_of[known] >= 0]
        if len(known):
            if self.ann is not None:
                self.ann.remove(known, self.row_of[known])
            self.ids[self.row_of[known]] = -1
            self.row_of[known] = -1
            self.live -= len(known)
            self.sample_cache = None
        return known

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.ids >= 0)

    def rows_of(self, segment_ids: np.ndarray) -> np.ndarray:
        inside = segment_ids[(segment_ids >= 0) & (segment_ids < len(self.row_of))]
        rows = self.row_of[inside]
        return rows[rows >= 0]

    # -- search ---------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed: Allowed | None) -> list[tuple[int, float]]:
        if allowed is not None:
            if self.ann is None or allowed.count <= self.policy.exact_filter_rows:
                return self._exact(query, k, self.rows_of(allowed.ids))
            selectivity = min(1.0, allowed.count / max(1, self.live))
            return self._approximate(query, k, allowed.mask, selectivity)
        if self.ann is None:
            return self._exact(query, k, None)
        return self._approximate(query, k, None, 1.0)

    def _exact(self, query: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
        if rows is None:
            scores = np.concatenate([self.base @ query, self.tail[: self.tail_rows] @ query])
            scores[self.ids < 0] = -np.inf
            rows = np.arange(len(scores))
        else:
            scores = self.gather(rows) @ query
        return self._top(rows, scores, k)

    def _approximate(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, selectivity: float
    ) -> list[tuple[int, float]]:
        """IVF candidates (among the segments the bitmap ``allowed`` lets through),
        re-scored exactly."""
        assert self.ann is not None
        nprobe = self.policy.nprobe_for(self.ann.nlist, selectivity)
        wanted = min(self.live, self.policy.candidates_for(k))
        rows = self.rows_of(self.ann.search(query, wanted, nprobe, allowed))
        return self._top(rows, self.gather(rows) @ query, k)

    def _top(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(rows) == 0:
            return []
        k = min(k, len(rows))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(self.ids[rows[i]]), float(scores[i])) for i in best if np.isfinite(scores[i])]

    def sample(self, size: int) -> np.ndarray:
        """An even sample of the live vectors, kept until the next write."""
        if self.sample_cache is None:
            live = self.live_rows()
            step = max(1, len(live) // size)
            self.sample_cache = self.gather(live[::step][:size])
        return self.sample_cache

    # -- quantised index ------------------------------------------------------------
    def wants_training(self) -> bool:
        return (
            self.training is None
            and self.live >= self.policy.ann_threshold
            and (self.ann is None or self.live >= self.trained_on * self.policy.retrain_growth)
        )


class CatalogueVectors:
    """The catalogue's copy of the vectors, read without loading the Faiss files."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def fetch(self, ids: list[int], with_vectors: bool = True) -> StoredVectors:
        return self._catalogue.vectors_of(ids, with_vectors)

    def counts(self) -> dict[str, int]:
        return self._catalogue.vector_counts()

    def close(self) -> None:
        """The catalogue is its owner's to close."""


class FaissStore:
    """Every modality's vectors of one embedded index; see the module docstring."""

    def __init__(self, directory: Path, catalogue: Catalogue, policy: IndexPolicy | None = None):
        self.directory = directory
        self.policy = policy or IndexPolicy()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._catalogue = catalogue
        self.log = catalogue.vector_log()
        self._lock = threading.RLock()
        self._modalities: dict[str, ModalityVectors] = {}
        self.generation = 0  # the SQLite vector_generation memory reflects
        self._diverged = False  # another process wrote: never save over its files
        self._saved = -1  # generation of the files on disk, -1 once memory moved on
        self._on_disk = 0  # generation of the manifest on disk: the log is kept past it
        self.caught_up = 0  # segments re-read from SQLite's log at open
        self._closed = False
        self._defer_training = False  # inside training_deferred
        self._training_slot = threading.Lock()  # one training at a time: two cores
        self._building: set[str] = set()  # stems of lists files being written by training
        self.rebuilt = False  # open() had to read the vectors from SQLite
        self._data_version = -1  # SQLite's count of other connections' commits, last seen
        self._open()

    # -- public ---------------------------------------------------------------------
    def modalities(self) -> dict[str, int]:
        with self._lock:
            self.follow()
            return {name: m.live for name, m in self._modalities.items()}

    def counts(self) -> dict[str, int]:
        return self.modalities()

    def search(
        self, modality: str, query: np.ndarray, k: int, within: Allowed | None = None
    ) -> list[tuple[int, float]]:
        """(segment id, exact cosine) best first; ``within`` limits the candidates to
        the ids the catalogue allows."""
        with self._lock:
            self.follow()
            store = self._modalities.get(modality)
            if store is None or store.live == 0 or k < 1:
                return []
            vector = np.ascontiguousarray(query, np.float32).reshape(-1)
            return store.search(vector, k, within)

    def sample(self, modality: str, size: int) -> np.ndarray:
        with self._lock:
            self.follow()
            store = self._modalities.get(modality)
            if store is None or store.live == 0:
                return np.zeros((0, 0), np.float32)
            return store.sample(size)

    def kind(self, modality: str) -> str:
        """ "exact" or "ivf<lists>,sq8 mapped" ("in memory" after a refill from SQLite
        by a process that does not save, or until an older index's first save): what
        answers this modality's queries now."""
        with self._lock:
            store = self._modalities.get(modality)
            ann = store.ann if store is not None else None
            if ann is None:
                return "exact"
            return f"ivf{ann.nlist},sq8 {'mapped' if ann.mapped else 'in memory'}"

    def follow(self) -> None:
        """Catch up with the vectors another process (``index`` or ``watch`` beside
        ``serve``) committed since this one last looked. SQLite's data_version moves only
        when another connection commits, so a search when nothing changed costs one
        pragma; catching up re-reads the segments the log names, or loads the writer's
        saved files when its log no longer reaches back this far."""
        with self._lock:
            version = self.log.data_version()
            if version == self._data_version:
                return
            self._data_version = version
            with self.log.snapshot():  # the generation and its log agree
                current = self.log.generation()
                if current == self.generation:
                    return  # this process's own write (or no vector changed)
                self._diverged = True  # the files are the writer's: never save over them
                seen, self.generation = self.generation, current
                if self._log_covers(seen):
                    self._catch_up(seen)
                elif not self._load_files():
                    self._rebuild()
            self._train_where_wanted()

    def fetch(self, ids: list[int], with_vectors: bool = True) -> StoredVectors:
        """From the catalogue's copy, which search's memory never disagrees with."""
        return CatalogueVectors(self._catalogue).fetch(ids, with_vectors)

    @contextlib.contextmanager
    def writing(self, *videos: str) -> Iterator[VectorChanges]:
        """One catalogue write transaction; the caller records its vector changes in the
        yielded object, stored in the catalogue's ``vectors`` table in the same
        transaction. The generation is bumped inside the transaction and memory follows
        only after the commit, so a crash leaves SQLite ahead of the files (which open()
        detects), never the reverse."""
        with self._lock:
            changes = VectorChanges()
            with self._catalogue.transaction() as db:
                yield changes
                self._catalogue.put_vectors(
                    db, ((i, m, v) for m, pairs in changes.added.items() for i, v in pairs)
                )
                if changes:
                    if self.log.generation(db) != self.generation:
                        self._diverged = True  # another process wrote since we loaded
                    touched = set(changes.removed)
                    for pairs in changes.added.values():
                        touched.update(segment_id for segment_id, _ in pairs)
                    # so that an open after a crash re-reads only these segments
                    generation = self.log.record(db, touched, self._on_disk)
            crash_point("after-commit")
            if changes:
                self._apply(changes)
                self.generation = generation
                self._after_write()

    @contextlib.contextmanager
    def training_deferred(self) -> Iterator[None]:
        """For a bulk build: no quantiser is trained until the block ends, then one, on
        a sample of everything, instead of one per fourfold growth, each adding again
        every vector written so far (meanwhile queries scan exactly)."""
        self._defer_training = True
        try:
            yield
        finally:
            with self._lock:
                self._defer_training = False
                self._train_where_wanted()

    def wait_for_training(self) -> None:
        """Block until background training (if any) has swapped its index in."""
        while True:
            with self._lock:
                threads = [m.training for m in self._modalities.values() if m.training]
            if not threads:
                return
            for thread in threads:
                thread.join()

    def checkpoint(self) -> bool:
        """Save what memory holds, if it reflects SQLite's generation; True if saved.
        A failed save (read-only or full disk) only costs the next open a catch-up."""
        with self._lock:
            if self._diverged or self._saved == self.generation:
                return False
            try:
                with open(self.directory / ".lock", "w") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    if self.log.generation() != self.generation:
                        self._diverged = True
                        return False
                    self._save()
            except OSError as exc:
                log.warning(
                    "%s: vector files not saved (%s); SQLite has every vector", self.directory, exc
                )
                return False
            return True

    def verify(self) -> list[str]:
        """Differences between memory and SQLite, one line each (empty when they agree):
        the hook for ``sceneseek check`` and crash tests."""
        problems: list[str] = []
        with self._lock:
            self.follow()
            seen: dict[str, list[np.ndarray]] = {}
            differing: set[str] = set()
            for name, ids, matrix in self._sqlite_chunks():
                seen.setdefault(name, []).append(ids)
                mine = self._modalities.get(name)
                if mine is None or name in differing:
                    continue
                rows = mine.row_of[ids[ids < len(mine.row_of)]]
                whole = len(rows) == len(ids) and (rows >= 0).all()
                if whole and not np.array_equal(mine.gather(rows), matrix):
                    differing.add(name)
            for name in sorted(set(seen) | set(self._modalities)):
                ids = np.concatenate(seen.get(name, [np.zeros(0, np.int64)]))
                mine = self._modalities.get(name)
                held = mine.ids[mine.ids >= 0] if mine else np.zeros(0, np.int64)
                missing, extra = np.setdiff1d(ids, held), np.setdiff1d(held, ids)
                if len(missing) or len(extra):
                    problems.append(
                        f"{name}: {len(missing)} vectors in SQLite missing from the vector "
                        f"store, {len(extra)} in the store but not in SQLite"
                    )
                if name in differing:
                    problems.append(f"{name}: stored vectors differ from SQLite's")
                if mine is not None and mine.ann is not None and mine.ann.ntotal != mine.live:
                    problems.append(
                        f"{name}: ANN index holds {mine.ann.ntotal} vectors, not {mine.live}"
                    )
        return problems

    def rebuild(self) -> str:
        """Reload every vector from SQLite and save the files again (repair). Trained
        quantisers are kept: they are centroids, right whatever the contents were."""
        self.wait_for_training()
        with self._lock:
            self.generation = self.log.generation()
            self._diverged = False
            self._rebuild()
            self._saved = -1
            self.checkpoint()
            self._train_where_wanted()
        return "rebuilt the vector store from SQLite"

    def unfinished(self, video: str) -> bool:
        return False  # one transaction writes the segments and their vectors

    def exported_vectors(self) -> VectorSource | None:
        return None  # the catalogue holds them

    def adopt_catalogue_vectors(self) -> None:
        """Nothing to move: the vectors are read from the catalogue when opened."""

    def settings_beside(self, settings: IndexConfig) -> IndexConfig:
        return settings

    def close(self) -> None:
        self.wait_for_training()
        with self._lock:
            self.checkpoint()
            self._closed = True
            self.log.close()

    # -- loading --------------------------------------------------------------------
    def _open(self) -> None:
        with self._lock:
            self._data_version = self.log.data_version()
            self.generation = self.log.generation()
            if not self._load_files():
                self._rebuild()
                self.rebuilt = True
            self.checkpoint()
            self._train_where_wanted()

    def _train_where_wanted(self) -> None:
        if self._defer_training:
            return
        for store in self._modalities.values():
            if store.wants_training():
                self._start_training(store)

    def _load_files(self) -> bool:
        """Memory-map the saved files if they are whole, belong to this library and
        reflect SQLite's generation, or an earlier one whose changes the log still names
        (a crash between a commit and the save): those segments are re-read."""
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text())
            saved = int(manifest["generation"])
            if manifest["token"] != self.log.token() or not self._log_covers(saved):
                return False
            loaded = {
                name: self._load_modality(name, entry)
                for name, entry in manifest["modalities"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return False  # missing, stale or damaged: SQLite has everything
        self._modalities = loaded
        self._saved = self._on_disk = saved
        if any(m.ann is not None and not m.ann.mapped for m in loaded.values()):
            self._saved = -1  # an index saved before lists files: write them at open
        if saved < self.generation:
            self._catch_up(saved)
        return True

    def _log_covers(self, saved: int) -> bool:
        """True if every generation after ``saved`` is in the log (each logs ≥ 1 row)."""
        if saved > self.generation:
            return False  # files from a later state: SQLite was restored from a backup
        return self.log.logged_generations(saved) == self.generation - saved

    def _catch_up(self, saved: int) -> None:
        """Apply what the log says changed after ``saved``: forget those segments, then
        add back whatever vectors SQLite now holds for them (ids can be reused)."""
        ids = self.log.touched_since(saved)
        changes = VectorChanges(removed=ids)
        for segment_id, modality, vector in self.log.vectors_of(ids):
            changes.add(modality, segment_id, vector)
        self._apply(changes)
        self._saved = -1
        self.caught_up = len(ids)

    def _load_modality(self, name: str, entry: dict[str, object]) -> ModalityVectors:
        dim, rows = int(str(entry["dim"])), int(str(entry["rows"]))
        store = ModalityVectors(name, dim, self.policy)
        ids = np.load(self.directory / str(entry["ids"]))
        vectors = self.directory / str(entry["vectors"])
        if ids.shape != (rows,) or vectors.stat().st_size < rows * dim * 4:
            raise ValueError(f"{name}: vector files shorter than the manifest says")
        store.base = _map_rows(vectors, rows, dim)
        store.base_file = vectors.name
        store.ids = ids.astype(np.int64)
        live = store.ids[store.ids >= 0]
        store.row_of = np.full(int(live.max(initial=-1)) + 1, -1, np.int64)
        store.row_of[live] = np.flatnonzero(store.ids >= 0)
        store.live = len(live)
        if entry.get("ann") and entry.get("ann_kind") == ANN_KIND:
            ann = IvfIndex.load(self.directory, entry, rows)
            if ann.ntotal != store.live or ann.base.d != dim:
                raise ValueError(f"{name}: ANN index does not match the vectors")
            store.ann = ann
            store.trained_on = int(str(entry["trained_on"]))
        elif entry.get("ann"):
            log.info(
                "%s: the %s ANN index is of an older kind; retraining it in the background"
                " (exact search meanwhile)",
                self.directory,
                name,
            )
        return store

    def _sqlite_chunks(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Every vector in SQLite as (modality, ids, matrix) chunks in segment id order,
        converted as they come so a large index never holds all its BLOBs at once."""
        pending: dict[str, tuple[list[int], list[bytes]]] = {}

        def chunk(modality: str) -> tuple[str, np.ndarray, np.ndarray]:
            ids, blobs = pending.pop(modality)
            matrix = np.frombuffer(b"".join(blobs), np.float32).reshape(len(ids), -1)
            return modality, np.asarray(ids, np.int64), matrix

        for segment_id, modality, blob in self.log.every_vector():
            ids, blobs = pending.setdefault(modality, ([], []))
            ids.append(segment_id)
            blobs.append(blob)
            if len(ids) == 65_536:
                yield chunk(modality)
        for modality in list(pending):
            yield chunk(modality)

    def _rebuild(self) -> None:
        """Everything from SQLite. A previous trained index (even a stale one) keeps its
        quantiser: only its contents are replaced, so no retraining is needed. The
        process that saves the files writes the rows and then the lists to new files as
        it reads them, so memory stays bounded at any size (the next save names them);
        one following another process's writes, which never writes files, holds them in
        memory."""
        previous = self._modalities
        self._modalities = {}
        spill = not self._diverged
        tag = f"{self.generation}.{secrets.token_hex(4)}"
        quantisers: dict[str, IvfIndex] = {}  # filled once every row is on disk
        for name, ids, matrix in self._sqlite_chunks():
            store = self._modalities.get(name)
            if store is None:
                store = self._modalities[name] = ModalityVectors(name, matrix.shape[1], self.policy)
                old = (
                    (previous[name].ann, previous[name].trained_on)
                    if name in previous
                    else self._stale_ann(name)
                )
                if old[0] is not None and old[0].base.d == store.dim:
                    store.trained_on = old[1]
                    if spill:
                        quantisers[name] = old[0]
                    else:
                        store.ann = IvfIndex(old[0].empty_copy())
            store.append(ids, matrix)
            if store.ann is not None:
                store.ann.add(ids, matrix)
            if spill and store.tail_rows * store.dim * 4 >= SPILL_BYTES:
                self._flush_rows(store, tag)
        for name, quantiser in quantisers.items():
            store = self._modalities[name]
            self._flush_rows(store, tag)
            rows = np.arange(store.rows)
            chunks = self._rows_in_chunks(store, rows, store.ids[rows])
            stem = f"{name}.ann.{tag}"
            store.ann = build(quantiser.empty_copy(), chunks, self.directory, stem, store.rows)

    def _stale_ann(self, name: str) -> tuple[IvfIndex | None, int]:
        """The trained index the manifest names, and the count it was trained on."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, RuntimeError):
            manifest = json.loads((self.directory / MANIFEST).read_text())
            entry = manifest["modalities"][name]
            if entry.get("ann") and entry.get("ann_kind") == ANN_KIND:
                base = read(self.directory, entry["ann"], entry.get("ann_data"))  # not
                # the changes beside it: only the quantiser is reused
                return IvfIndex(base), int(entry["trained_on"])
        return None, 0

    # -- writing --------------------------------------------------------------------
    def _apply(self, changes: VectorChanges) -> None:
        removed = np.asarray(changes.removed, np.int64)
        if len(removed):
            for store in self._modalities.values():
                gone = store.remove(removed)
                if store.training is not None:
                    store.removed_while_training.extend(gone.tolist())
        for name, pairs in changes.added.items():
            ids = np.asarray([i for i, _ in pairs], np.int64)
            matrix = np.stack([np.asarray(v, np.float32) for _, v in pairs])
            target = self._modalities.get(name)
            if target is None:
                target = self._modalities[name] = ModalityVectors(
                    name, matrix.shape[1], self.policy
                )
            target.append(ids, matrix)
            if target.ann is not None:
                target.ann.add(ids, matrix)

    def _after_write(self) -> None:
        unsaved = sum(m.tail_rows for m in self._modalities.values())
        saved = sum(len(m.base) for m in self._modalities.values())
        unsaved_bytes = sum(m.tail_rows * m.dim * 4 for m in self._modalities.values())
        if (
            unsaved >= max(self.policy.checkpoint_rows, saved // 10)
            or unsaved_bytes >= self.policy.checkpoint_bytes
        ):
            self.checkpoint()
        self._train_where_wanted()

    def _save(self) -> None:
        """Append unsaved rows, write ids and ANN files under new names, then the
        manifest (the commit point), then delete what the old manifest named."""
        entries: dict[str, dict[str, object]] = {}
        keep = {MANIFEST, ".lock"}
        tag = f"{self.generation}.{secrets.token_hex(4)}"  # never overwrite a named file
        for name, store in self._modalities.items():
            self._flush_rows(store, tag)
            ids_file = f"{name}.ids.{tag}.npy"
            with open(self.directory / ids_file, "wb") as handle:
                np.save(handle, store.ids)
                handle.flush()
                os.fsync(handle.fileno())
            entry: dict[str, object] = {
                "dim": store.dim,
                "rows": store.rows,
                "vectors": store.base_file,
                "ids": ids_file,
                "ann": None,
                "ann_kind": ANN_KIND,
                "trained_on": store.trained_on,
            }
            if store.ann is not None:
                entry |= store.ann.save(
                    self.directory, name, tag, store.rows, self.policy.merge_fraction
                )
            entries[name] = entry
            keep |= {ids_file, str(store.base_file)}
            keep |= {str(entry[key]) for key in ANN_FILES if entry.get(key)}
        crash_point("vector-write")  # files written, the manifest naming them not yet
        manifest = {"generation": self.generation, "token": self.log.token(), "modalities": entries}
        _write_atomically(self.directory / MANIFEST, json.dumps(manifest).encode())
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        for path in self.directory.iterdir():
            if path.name not in keep and not path.name.startswith(tuple(self._building)):
                path.unlink(missing_ok=True)
        self._saved = self._on_disk = self.generation

    def _flush_rows(self, store: ModalityVectors, tag: str) -> None:
        """Move the tail into the memory-mapped file: appended when the file is the one
        the base maps, rewritten without removed rows when those pile up."""
        dead = store.rows - store.live
        compact = store.training is None and dead > max(1024, store.rows // 4)
        if store.tail_rows == 0 and not compact and store.base_file is not None:
            return
        if compact or store.base_file is None:
            rows = store.live_rows()
            matrix, ids = store.gather(rows), store.ids[rows]
            store.base_file = f"{store.name}.vectors.{tag}.f32"
            path = self.directory / store.base_file
            with open(path, "wb") as handle:
                handle.write(np.ascontiguousarray(matrix).tobytes())
                handle.flush()
                os.fsync(handle.fileno())
            store.ids = ids
            if store.ann is not None:
                store.ann.renumbered(rows)
            store.row_of[:] = -1
            store.row_of[ids] = np.arange(len(ids))
            store.live = len(ids)
        else:
            path = self.directory / store.base_file
            with open(path, "r+b") as handle:
                handle.truncate(len(store.base) * store.dim * 4)  # drop a crashed append
                handle.seek(0, os.SEEK_END)
                handle.write(store.tail[: store.tail_rows].tobytes())
                handle.flush()
                os.fsync(handle.fileno())
        store.base = _map_rows(path, len(store.ids), store.dim)
        store.tail = np.zeros((0, store.dim), np.float32)
        store.tail_rows = 0
        store.sample_cache = None

    # -- background training ---------------------------------------------------------
    def _start_training(self, store: ModalityVectors) -> None:
        store.removed_while_training = []
        store.training = threading.Thread(
            target=self._train, args=(store,), name=f"train-{store.name}", daemon=True
        )
        store.training.start()

    def _train(self, store: ModalityVectors) -> None:
        try:
            with self._training_slot:
                self._train_and_swap(store)
        finally:
            with self._lock:
                store.training = None
                store.removed_while_training = []
        if not self._closed:
            self.checkpoint()

    def _rows_in_chunks(
        self, store: ModalityVectors, rows: np.ndarray, ids: np.ndarray
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of ``rows`` 65 536 at a time, each read under the lock, so a
        background build lets writes and searches in between."""
        for start in range(0, len(rows), 65_536):
            with self._lock:
                matrix = store.gather(rows[start : start + 65_536])
            yield ids[start : start + 65_536], matrix

    def _train_and_swap(self, store: ModalityVectors) -> None:
        """Train a new index on a snapshot of the rows and write its lists file, outside
        the lock (reads of the memory map and copies of the tail take it briefly), then
        catch up with what changed meanwhile and swap it in."""
        with self._lock:
            if self._closed:
                return
            snapshot = store.rows
            live = store.live_rows()
            live_ids = store.ids[live].copy()  # the base holds these, even if removed since
            stem = f"{store.name}.ann.{self.generation}.{secrets.token_hex(4)}"
            self._building.add(stem)
        try:
            index = untrained(store.dim, self.policy.lists_for(len(live)))
            wanted = min(len(live), max(index.nlist * self.policy.train_points_per_list, 16_384))
            picked = np.sort(np.random.default_rng(0).choice(live, wanted, replace=False))
            with self._lock:
                sample = store.gather(picked)
            index.train(sample)
            chunks = self._rows_in_chunks(store, live, live_ids)
            trained = build(index, chunks, self.directory, stem, snapshot)
        finally:
            with self._lock:
                self._building.discard(stem)  # unless swapped in, the next save deletes it
        with self._lock:
            if self._closed or store.rows < snapshot:  # compacted: rows renumbered
                return
            gone = np.asarray(store.removed_while_training, np.int64)
            trained.forget(gone, np.isin(gone, live_ids))
            newer = np.arange(snapshot, store.rows)
            newer = newer[store.ids[newer] >= 0]
            if len(newer):
                trained.add(store.ids[newer], store.gather(newer))
            store.ann, store.trained_on = trained, len(live)
            self._saved = -1


def _map_rows(path: Path, rows: int, dim: int) -> np.ndarray:
    """The first ``rows`` vectors of a file, memory-mapped (mmap refuses empty files),
    without read-ahead: re-ranking reads a few scattered rows, and the kernel's default
    read-ahead turned each into 128 KiB, reading most of a 15 GB file at 10M segments."""
    if rows == 0:
        return np.zeros((0, dim), np.float32)
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), rows * dim * 4, access=mmap.ACCESS_READ)
    mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, np.float32).reshape(rows, dim)

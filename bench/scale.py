"""Scale benchmark of the index backends: build time, memory, disk, start-up, single-query
latency and recall@10 against exact search, unfiltered and at 1 %, 10 % and 50 %
filter selectivity, at 100k and 1M segments (10M where memory and time allow).

    python bench/scale.py --sizes 100000,1000000 --write docs/BENCHMARKS.md
    python bench/scale.py --sizes 1000000 --tune     # IndexPolicy's probes and candidates

Vectors: real e5-small embeddings replicated with noise. The 1 521 ImageNet and AudioSet
class names are embedded as passages (anchors) and as queries; each synthetic segment is
an anchor (Zipf-distributed: a few scenes recur constantly, as on fixed cameras) plus
noise inside the anchors' own 64 principal directions (scaled by their spectrum, with a
per-cluster spread) and a little isotropic noise, renormalised. That keeps what makes
e5 vectors hard for quantisation: a strong common direction (mean pairwise cosine about
0.85, as measured on the benchmark library's stored vectors) and dense clusters of
near-duplicates. Queries are the e5 *query* embeddings of 200 class names, so they meet
the data the way a typed query meets stored segments. Uniform random vectors would make
every method look good and mean nothing. ``--tune`` measures a grid of ``IndexPolicy``
constants on an index built by an earlier run, with 100 other class names as queries,
so that the reported numbers are not those the constants were chosen on.

Layout: 1 000 segments per video (86.4 s each: a video covers one day), 100 cameras and
10 zones assigned round-robin, so a camera filter selects 1 %, a zone 10 % and the
time-of-day filter 00:00–12:00 exactly 50 %. Every filtered query also carries an
``after`` bound that selects everything but differs per query, so no cached id list is
reused: the SQL that turns the filter into ids is part of each measured latency.

Each size is built in this process, then measured in a fresh one (what a user's next
``sceneseek search`` sees): start-up = opening the index; RAM = growth of the process's
anonymous memory (file-backed pages of the memory-mapped vectors reported apart: the
kernel can drop them); exact-search baselines (the former in-memory ``IndexFlatIP``) are
measured in the same run on the same vectors.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from sceneseek.config import IndexConfig, MilvusConfig
from sceneseek.faults import CRASH_ENV
from sceneseek.index.base import SegmentFilter, SegmentRecord, VideoRecord
from sceneseek.index.store import EmbeddedIndex, Store, backends
from sceneseek.index.vectors.faiss import FaissStore, IndexPolicy

ROOT = Path(__file__).resolve().parent
PER_VIDEO = 1000
CHUNK = 10 * PER_VIDEO  # vectors generated (and written, in one transaction) at a time
BASELINE_MAX = 2_000_000  # the in-memory exact baseline holds every vector: not at 10M
CAMERAS, ZONES = 100, 10
DAY = datetime(2026, 11, 2, tzinfo=UTC)
QUERIES, FILTERED_QUERIES, K = 200, 100, 10
TUNING_QUERIES = 100  # other class names, for --tune
# --tune's grid: (probe_fraction, filter_probe_exponent, max_probe_fraction, min_rerank)
TUNING_GRID = [
    (1 / 64, 0.6, 1 / 4, 50),
    (1 / 32, 0.6, 1 / 4, 20),
    (1 / 32, 0.6, 1 / 4, 50),
    (1 / 32, 0.6, 1 / 8, 50),
    (1 / 32, 0.5, 1 / 8, 50),
    (1 / 16, 0.6, 1 / 4, 50),
]
SELECTIVITIES = ("1%", "10%", "50%")
MODALITY = "visual"  # the modality queried; --all-modalities stores the other six too
OTHER_MODALITIES = ("fused", "speech", "ocr", "sound", "people")  # 384-d, like visual
IMAGE_DIM = 1280  # the "image" features (EfficientNet-Lite0)
CRASH_VIDEO = "/footage/crash/"  # recovery()'s extra video, removed afterwards
SECTION_TITLE = "## Scale (`bench/scale.py`)"


# -- data -------------------------------------------------------------------------------
def anchors(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """e5 passage and query embeddings of the ImageNet and AudioSet class names."""
    if cache.exists():
        data = np.load(cache)
        return data["passages"], data["queries"]
    from sceneseek.encoders.sound_yamnet import class_names
    from sceneseek.encoders.text_e5 import E5TextEncoder
    from sceneseek.encoders.vocabulary import load_class_names

    names = load_class_names() + class_names()
    encoder = E5TextEncoder()
    passages, queries = encoder.embed_passages(names), encoder.embed_queries(names)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, passages=passages, queries=queries)
    return passages, queries


class SegmentVectors:
    """Deterministic synthetic segment vectors around real e5 anchors (module docstring)."""

    def __init__(self, passages: np.ndarray, seed: int = 7) -> None:
        self.anchors = passages.astype(np.float32)
        residuals = passages - passages.mean(0)
        _, spectrum, basis = np.linalg.svd(residuals, full_matrices=False)
        self.basis = (basis[:64] * (spectrum[:64] / spectrum[0])[:, None]).astype(np.float32)
        rng = np.random.default_rng(seed)
        weights = 1.0 / np.arange(1, len(passages) + 1) ** 0.9
        self.weights = rng.permutation(weights / weights.sum())
        self.spread = rng.lognormal(0.0, 0.35, len(passages)).astype(np.float32)
        self.seed = seed

    def chunk(self, index: int, count: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, index))
        cluster = rng.choice(len(self.anchors), count, p=self.weights)
        spread = self.spread[cluster][:, None]
        manifold = rng.standard_normal((count, len(self.basis)), np.float32) @ self.basis
        isotropic = rng.standard_normal((count, self.anchors.shape[1]), np.float32)
        x = self.anchors[cluster] + 0.05 * spread * manifold + 0.006 * isotropic
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def chunks(self, count: int) -> Iterator[tuple[int, np.ndarray]]:
        """The first ``count`` vectors as (first row, vectors) chunks of ``CHUNK``, so
        that ten million never need to be in memory at once."""
        for start in range(0, count, CHUNK):
            yield start, self.chunk(start // CHUNK, min(CHUNK, count - start))

    def all(self, count: int) -> np.ndarray:
        out = np.empty((count, self.anchors.shape[1]), np.float32)
        for start, vectors in self.chunks(count):
            out[start : start + len(vectors)] = vectors
        return out


def filter_for(selectivity: str, j: int) -> SegmentFilter:
    """The j-th filtered query's filter; ``after`` selects all data but varies per query."""
    after = DAY - timedelta(days=1, seconds=j)
    if selectivity == "1%":
        return SegmentFilter(camera=f"cam{j % CAMERAS:03d}", after=after)
    if selectivity == "10%":
        return SegmentFilter(zone=f"zone{j % ZONES}", after=after)
    return SegmentFilter(time_of_day=(0, 12 * 3600), after=after)


def allowed_mask(selectivity: str, rows: np.ndarray) -> np.ndarray:
    """Whether the j-th filtered query's filter allows each row: [j, row]."""
    j = np.arange(FILTERED_QUERIES)[:, None]
    camera = ((rows // PER_VIDEO) % CAMERAS)[None, :]
    if selectivity == "1%":
        return camera == j % CAMERAS
    if selectivity == "10%":
        return camera // (CAMERAS // ZONES) == j % ZONES
    return np.broadcast_to(rows % PER_VIDEO < PER_VIDEO // 2, (FILTERED_QUERIES, len(rows)))


def ground_truth(generator: SegmentVectors, count: int, queries: np.ndarray) -> dict[str, Any]:
    """Exact top-10 segment ids per query (row + 1: SQLite assigns ids in insertion
    order), unfiltered and under each filter: every score computed once, chunk by chunk,
    keeping the best so far."""
    best = {
        key: (np.full((n, K), -np.inf, np.float32), np.zeros((n, K), np.int64))
        for key, n in [("all", len(queries)), *((s, FILTERED_QUERIES) for s in SELECTIVITIES)]
    }

    def merge(key: str, scores: np.ndarray, ids: np.ndarray) -> None:
        kept_scores, kept_ids = best[key]
        scores = np.concatenate([kept_scores, scores], axis=1)
        ids = np.concatenate([kept_ids, np.broadcast_to(ids, scores[:, K:].shape)], axis=1)
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
        best[key] = (np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1))

    for start, data in generator.chunks(count):
        rows = np.arange(start, start + len(data))
        scores = queries @ data.T
        merge("all", scores, rows + 1)
        for s in SELECTIVITIES:
            allowed = allowed_mask(s, rows)
            merge(s, np.where(allowed, scores[:FILTERED_QUERIES], -np.inf), rows + 1)
    return {"queries": queries, **{key: ids for key, (_, ids) in best.items()}}


# -- build ------------------------------------------------------------------------------
MILVUS_URI = "SCENESEEK_BENCH_MILVUS_URI"  # the server --milvus-server started, for children


def open_backend(name: str, directory: Path) -> Store:
    """milvus: the server of --milvus-server, else milvus-lite in the directory."""
    milvus = MilvusConfig(uri=os.environ.get(MILVUS_URI))
    settings = IndexConfig(backend=name, milvus=milvus)  # type: ignore[arg-type]
    return backends.create(name, directory, settings)


def vector_store(index: Store) -> FaissStore | None:
    """The embedded backend's Faiss store (Milvus keeps its vectors on the server)."""
    return index.vector_store if isinstance(index, EmbeddedIndex) else None


def extra_generators(generator: SegmentVectors) -> dict[str, SegmentVectors]:
    """Vectors of the other modalities, for memory and disk as a full segment has them:
    the same model of e5 data with other seeds, and image features around the anchors
    lifted to 1 280-d by a fixed random projection."""
    out = {}
    for offset, name in enumerate(OTHER_MODALITIES, start=1):
        out[name] = SegmentVectors(generator.anchors, seed=generator.seed + offset)
    lift = np.random.default_rng(99).standard_normal((generator.anchors.shape[1], IMAGE_DIM))
    lifted = generator.anchors @ lift.astype(np.float32)
    lifted /= np.linalg.norm(lifted, axis=1, keepdims=True)
    out["image"] = SegmentVectors(lifted, seed=generator.seed + 9)
    return out


def video_batch(
    first_row: int, vectors: dict[str, np.ndarray]
) -> list[tuple[VideoRecord, list[SegmentRecord]]]:
    """The videos of one chunk of rows, with their segments and vectors."""
    batch = []
    for first in range(0, len(vectors[MODALITY]), PER_VIDEO):
        video = (first_row + first) // PER_VIDEO
        camera = video % CAMERAS
        record = VideoRecord(
            path=f"/footage/cam{camera:03d}/{video:06d}.mp4",
            content_hash=f"{video}",
            duration=PER_VIDEO * 86.4,
            camera=f"cam{camera:03d}",
            zone=f"zone{camera // (CAMERAS // ZONES)}",
            start_time=DAY + timedelta(days=video // CAMERAS),
        )
        segments = [
            SegmentRecord(
                start=j * 86.4,
                end=(j + 1) * 86.4,
                keyframe=j * 86.4 + 43.2,
                vectors={name: matrix[first + j] for name, matrix in vectors.items()},
            )
            for j in range(PER_VIDEO)
        ]
        batch.append((record, segments))
    return batch


def build(
    backend: str, directory: Path, generator: SegmentVectors, size: int, all_modalities: bool
) -> dict[str, float]:
    """A bulk build: ten videos per transaction, the quantiser trained once at the end."""
    shutil.rmtree(directory, ignore_errors=True)
    extra = extra_generators(generator) if all_modalities else {}
    load_before = os.getloadavg()[0]
    peak = PeakMemory()
    started = time.perf_counter()
    index = open_backend(backend, directory)
    store = vector_store(index)
    generating = 0.0  # making up the vectors is not the build's work: not counted
    with store.training_deferred() if store is not None else contextlib.nullcontext():
        made = time.perf_counter()
        for first_row, data in generator.chunks(size):
            chunk = first_row // CHUNK
            vectors = {MODALITY: data, **{n: g.chunk(chunk, len(data)) for n, g in extra.items()}}
            generating += time.perf_counter() - made
            index.replace_videos(video_batch(first_row, vectors))
            made = time.perf_counter()
    inserted = time.perf_counter() - generating
    index.vector_store.wait_for_training()  # Milvus: until the server indexed every row
    trained = time.perf_counter() - generating
    kind = store.kind(MODALITY) if store is not None else backend
    index.close()
    closed = time.perf_counter() - generating
    return {
        "insert_s": inserted - started,
        "train_wait_s": trained - inserted,
        "close_s": closed - trained,
        "build_s": closed - started,
        "generate_s": generating,
        "kind": kind,  # type: ignore[dict-item]
        "load": [load_before, os.getloadavg()[0]],  # type: ignore[dict-item]
        "peak_anon": peak.stop(),
    }


class PeakMemory(threading.Thread):
    """The process's largest anonymous memory (RssAnon), sampled every 0.2 s: the
    kernel's own peak (VmHWM) counts the pages of memory-mapped files too."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, memory()["RssAnon"])

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.peak, memory()["RssAnon"])


def disk_usage(directory: Path) -> dict[str, int]:
    sizes = {"total": 0, "vectors": 0}
    for path in directory.rglob("*"):
        if path.is_file():
            sizes["total"] += path.stat().st_size
            if "vectors" in path.relative_to(directory).parts[:1]:
                sizes["vectors"] += path.stat().st_size
    return sizes


# -- measure (in a fresh process) -------------------------------------------------------
def memory() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmRSS"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def measure(backend: str, directory: Path, truth_file: Path) -> dict[str, Any]:
    truth = np.load(truth_file)
    queries = truth["queries"]
    load_before = os.getloadavg()[0]
    before = memory()
    started = time.perf_counter()
    index = open_backend(backend, directory)
    opened = time.perf_counter()
    after_open = memory()
    store = vector_store(index)
    out: dict[str, Any] = {
        "startup_s": opened - started,
        "rebuilt": store is not None and store.rebuilt,
        "kind": store.kind(MODALITY) if store is not None else backend,
        "anon_open": after_open["RssAnon"] - before["RssAnon"],
    }
    for q in queries[:5]:  # warm-up: first touches of the memory map, lazy imports
        index.knn(MODALITY, q, K, SegmentFilter())
    started = time.perf_counter()  # the first filter reads the filter columns
    index.knn(MODALITY, queries[0], K, SegmentFilter(camera="cam000"))
    out["first_filter_s"] = time.perf_counter() - started
    out |= searches_with_truth(index, truth, with_k200=True)
    final = memory()
    out["anon_after"] = final["RssAnon"] - before["RssAnon"]
    out["file_after"] = final["RssFile"] - before["RssFile"]
    out["load"] = [load_before, os.getloadavg()[0]]
    index.close()
    return out


def searches(
    index: Store, vectors: np.ndarray, k: int, where: list[SegmentFilter], expected: Any
) -> dict[str, Any]:
    """p50 and p99 latency of single queries, and recall@10 against ``expected``."""
    latencies, recalls = [], []
    for j, q in enumerate(vectors):
        t = time.perf_counter()
        hits = index.knn(MODALITY, q, k, where[j])
        latencies.append((time.perf_counter() - t) * 1000)
        if expected is not None:
            recalls.append(len({i for i, _ in hits[:K]} & set(expected[j].tolist())) / K)
    return {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "recall": float(np.mean(recalls)) if recalls else None,
    }


def searches_with_truth(index: Store, truth: Any, with_k200: bool = False) -> dict[str, Any]:
    """Unfiltered and at each selectivity, recall against the ground truth's top 10
    (and, ``with_k200``, unfiltered with k=200: latency only)."""
    queries = truth["queries"]
    unfiltered = [SegmentFilter()] * len(queries)
    out = {"all": searches(index, queries, K, unfiltered, truth["all"])}
    if with_k200:
        out["k200"] = searches(index, queries, 200, unfiltered, None)
    for s in SELECTIVITIES:
        vectors = queries[:FILTERED_QUERIES]
        out[s] = searches(
            index, vectors, K, [filter_for(s, j) for j in range(len(vectors))], truth[s]
        )
    return out


def tune(directory: Path, truth_file: Path) -> list[dict[str, Any]]:
    """Every ``TUNING_GRID`` policy on the tuning queries, each in its own opening of
    the index (after a warm-up)."""
    truth = np.load(truth_file)
    rows = []
    for probe_fraction, exponent, most, min_rerank in TUNING_GRID:
        policy = IndexPolicy(
            probe_fraction=probe_fraction,
            filter_probe_exponent=exponent,
            max_probe_fraction=most,
            min_rerank=min_rerank,
        )
        index = EmbeddedIndex(directory, policy)
        for q in truth["queries"][:5]:
            index.knn(MODALITY, q, K, SegmentFilter(camera="cam000"))
        row = {"policy": [probe_fraction, exponent, most, min_rerank], "load": os.getloadavg()[0]}
        row |= searches_with_truth(index, truth)
        index.close()
        del index
        gc.collect()  # its codes (4 GB at 10M) are in reference cycles: free them first
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def crash_write(backend: str, directory: Path, generator: SegmentVectors) -> None:
    """Index one more video and die (SIGKILL via $SCENESEEK_CRASH_AT) right after its
    SQLite commit, before the vector files follow."""
    index = open_backend(backend, directory)
    video = len(index.videos())
    record = VideoRecord(f"{CRASH_VIDEO}{video:06d}.mp4", "crash", PER_VIDEO * 86.4)
    vectors = generator.chunk(10**6 + video, PER_VIDEO)
    segments = [SegmentRecord(j, j + 1, vectors={MODALITY: v}) for j, v in enumerate(vectors)]
    index.replace_video(record, segments)


def recovery(backend: str, directory: Path) -> dict[str, float] | None:
    """Start-up of the embedded backend (the only one with such files) after a kill -9
    between a commit and the save (the log's segments are re-read), and after losing
    the vector files (everything is read from SQLite again and the quantiser retrained
    in the background)."""
    if backend != "embedded":
        return None
    crashed = subprocess.run(
        [sys.executable, __file__, "--backend", backend, "--crash-write", str(directory)],
        env={**os.environ, CRASH_ENV: "after-commit"},
        check=False,
        capture_output=True,
        text=True,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    times = {}
    for case in ("crash", "files lost"):
        if case == "files lost":
            (directory / "vectors" / "manifest.json").unlink()
        started = time.perf_counter()
        index = open_backend(backend, directory)
        times[case] = time.perf_counter() - started
        assert isinstance(index, EmbeddedIndex)
        store = index.vector_store
        assert store.caught_up == PER_VIDEO if case == "crash" else store.rebuilt
        store.wait_for_training()
        if case == "files lost":  # leave the index as measured, for --reuse-builds
            for video in index.videos():
                if video.path.startswith(CRASH_VIDEO):
                    index.remove_video(video.path)
        index.close()
    return times


def baseline(data: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    """The former design: every vector in an in-memory IndexFlatIP."""
    flat = faiss.IndexFlatIP(data.shape[1])
    flat.add(data)
    latencies = []
    for q in queries[:50]:
        t = time.perf_counter()
        flat.search(q.reshape(1, -1), K)
        latencies.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": float(np.percentile(latencies, 50)), "bytes": data.nbytes}


# -- report -----------------------------------------------------------------------------
def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| backend | segments | index | build | RAM (anon) | RAM/segment | mapped (file) "
        "| disk (vectors) | start-up | p50 / p99 | recall@10 | p50 k=200 "
        "| 1 % p50 / recall | 10 % p50 / recall | 50 % p50 / recall | exact baseline p50 "
        "| load avg: build; measure |\n" + "|---" * 17 + "|\n"
    )
    lines = []
    for r in rows:
        m = r["measure"]
        filt = [
            f"{m[s]['p50_ms']:.1f} (p99 {m[s]['p99_ms']:.0f}) ms / {m[s]['recall']:.3f}"
            for s in SELECTIVITIES
        ]
        base = r["baseline"]
        exact = (
            f"{base['p50_ms']:.1f} ms ({base['bytes'] / r['size']:.0f} B/seg)"
            if base
            else "not run (all vectors in RAM)"
        )
        load = "; ".join(
            "→".join(f"{x:.1f}" for x in part["load"]) if "load" in part else "?"
            for part in (r["build"], m)
        )
        peak_anon = r["build"].get("peak_anon")
        peak = f"; peak anon {peak_anon / 2**30:.1f} GiB" if peak_anon else ""
        first = f", first filter {m['first_filter_s']:.2f} s" if "first_filter_s" in m else ""
        recovery = r.get("recovery")
        recovered = (
            f"; {recovery['crash']:.2f} s after a crash, {recovery['files lost']:.0f} s "
            "without its files"
            if recovery
            else ""
        )
        lines.append(
            f"| {r['backend']} | {r['size']:,} | {m.get('kind', r['build']['kind'])} "
            f"| {r['build']['build_s']:.0f} s ({r['build']['train_wait_s']:.0f} s training{peak}) "
            f"| {m['anon_after'] / 2**20:.0f} MiB | {m['anon_after'] / r['size']:.0f} B "
            f"| {m['file_after'] / 2**20:.0f} MiB "
            f"| {r['disk']['total'] / 2**30:.2f} GiB ({r['disk']['vectors'] / 2**30:.2f}) "
            f"| {m['startup_s']:.2f} s{' (rebuilt)' if m['rebuilt'] else ''}{first}"
            f"{recovered} "
            f"| {m['all']['p50_ms']:.1f} / {m['all']['p99_ms']:.1f} ms | {m['all']['recall']:.3f} "
            f"| {m['k200']['p50_ms']:.1f} ms | {' | '.join(filt)} "
            f"| {exact} | {load} |"
        )
    return head + "\n".join(lines) + "\n"


def write_section(path: Path, label: str, command: str, markdown: str) -> None:
    """Replace this run's block (one per backend and variant) in the Scale section."""
    begin, end = f"<!-- {label}:begin -->", f"<!-- {label}:end -->"
    block = f"{begin}\n```sh\n{command}\n```\n\n{markdown}{end}"
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        title = "" if SECTION_TITLE in text else f"\n\n{SECTION_TITLE}"
        text = text.rstrip("\n") + f"{title}\n\n{block}\n"
    path.write_text(text)


def in_child(*arguments: str) -> dict[str, Any]:
    """Run one step in a fresh process (a backend may hold its files until its process
    ends, as milvus-lite does) and return the JSON it prints last."""
    child = subprocess.run(
        [sys.executable, __file__, *arguments], check=False, capture_output=True, text=True
    )
    if child.returncode:
        raise SystemExit(f"bench/scale.py {' '.join(arguments)} failed:\n{child.stderr}")
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backend", default="embedded", help=f"one of {backends.names()}")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "scale")
    parser.add_argument("--write", type=Path, help="markdown file whose Scale section to update")
    parser.add_argument(
        "--all-modalities", action="store_true", help="store all 7 modalities' vectors"
    )
    parser.add_argument(
        "--reuse-builds",
        action="store_true",
        help="measure indexes built by an earlier run again (its build numbers are kept)",
    )
    parser.add_argument(
        "--no-recovery",
        action="store_true",
        help="skip the crash and lost-files start-ups (a full rebuild from SQLite at 10M)",
    )
    parser.add_argument(
        "--tune", action="store_true", help="measure TUNING_GRID on an earlier run's index"
    )
    parser.add_argument(
        "--milvus-server",
        type=Path,
        help="start a Milvus standalone server (tests/milvus_server.py) with its data here",
    )
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # child processes
    parser.add_argument("--crash-write", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.milvus_server:
        sys.path.insert(0, str(ROOT.parent / "tests"))
        from milvus_server import milvus_server

        args.milvus_server.mkdir(parents=True, exist_ok=True)
        with milvus_server(args.milvus_server) as uri:
            os.environ[MILVUS_URI] = uri
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    if args.measure:
        print(json.dumps(measure(args.backend, args.measure, args.truth)))
        return
    passages, query_anchors = anchors(args.work / "anchors.npz")
    generator = SegmentVectors(passages)
    if args.crash_write:
        crash_write(args.backend, args.crash_write, generator)
        return
    if args.build:
        built = build(args.backend, args.build, generator, args.size, args.all_modalities)
        print(json.dumps(built))
        return
    reported = np.random.default_rng(11).choice(len(query_anchors), QUERIES, replace=False)
    queries = query_anchors[reported]
    if args.tune:
        others = np.setdiff1d(np.arange(len(query_anchors)), reported)
        tuning = np.random.default_rng(5).choice(others, TUNING_QUERIES, replace=False)
        for size in (int(s) for s in args.sizes.split(",")):
            truth_file = args.work / f"truth-tuning-{size}.npz"
            if not truth_file.exists():
                np.savez(truth_file, **ground_truth(generator, size, query_anchors[tuning]))
            tune(args.work / f"{args.backend}-{size}", truth_file)
        return
    rows = []
    variant = "-all" if args.all_modalities else ""
    for size in (int(s) for s in args.sizes.split(",")):
        directory = args.work / f"{args.backend}{variant}-{size}"
        result_file = args.work / f"result-{args.backend}{variant}-{size}.json"
        if args.reuse_builds and directory.exists() and result_file.exists():
            built = json.loads(result_file.read_text())["build"]
        else:
            built = in_child(
                "--backend",
                args.backend,
                "--build",
                str(directory),
                "--size",
                str(size),
                *(["--all-modalities"] if args.all_modalities else []),
            )
        print(f"{size}: built {built}", flush=True)
        truth_file = args.work / f"truth-{size}.npz"
        if not (args.reuse_builds and truth_file.exists()):
            np.savez(truth_file, **ground_truth(generator, size, queries))
        base = baseline(generator.all(size), queries) if size <= BASELINE_MAX else None
        measured = in_child(
            "--backend", args.backend, "--measure", str(directory), "--truth", str(truth_file)
        )
        row = {
            "backend": args.backend + (" (all 7 modalities)" if args.all_modalities else ""),
            "size": size,
            "build": built,
            "measure": measured,
            "disk": disk_usage(directory),
            "baseline": base,
            "recovery": None if args.no_recovery else recovery(args.backend, directory),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
        result_file.write_text(json.dumps(row, indent=1))
    markdown = table(rows)
    print(markdown)
    if args.write:
        command = f"python bench/scale.py --sizes {args.sizes} --backend {args.backend}"
        command += " --all-modalities" if args.all_modalities else ""
        command += " --reuse-builds" if args.reuse_builds else ""
        command += " --no-recovery" if args.no_recovery else ""
        label = "scale" if args.backend == "embedded" and not variant else f"scale-{args.backend}"
        write_section(args.write, label + variant, command, markdown)


if __name__ == "__main__":
    main()

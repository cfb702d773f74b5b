"""One modality's IVF-SQ8 index with its saved inverted lists memory-mapped, so that the
8-bit codes of a large library cost page cache (evictable, shared), not process memory.

At 10M segments one 384-d modality's codes take 3.8 GB, and a library holds seven
modalities, one of them 1 280-d: about 3.3 KB of codes per segment, more than this
machine's RAM at 10M. So the saved lists are mapped read-only from a file, and what
changed since they were written lives beside them:

* **base**: the saved lists, mapped (faiss's ``OnDiskInvertedLists``, read-only).
  Training writes them straight to a file (``build``); only an index refilled from
  SQLite, or read from a file saved before lists files existed, is in memory until
  the next save.
* **recent**: an in-memory IVF with the same quantiser, holding the rows appended to the
  vector file after the base was written (``base_rows``): a live row below that line is
  in the base, one at or above it is in ``recent``.
* **stale**: the ids whose code in the base no longer counts (removed, or written
  again and so in ``recent``), excluded from base searches by a bitmap selector.

A save writes ``recent`` and the stale ids as small files; the base is rewritten (its
lists merged with ``recent``, stale entries left out) only when they amount to
``merge_fraction`` of it, or when it is not yet on disk. The lists file is written
here, list after list, in ``OnDiskInvertedLists``'s layout (codes, then ids), and its
header names the file without a directory: ``read`` puts the index directory in front
before mapping, so a library can be moved and faiss prints nothing.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sceneseek.registry import LazyModule

if TYPE_CHECKING:
    import faiss
else:  # exact search (below ann_threshold) never needs it, and it costs a cold search ~50 ms
    faiss = LazyModule("faiss")


class IvfIndex:
    """See the module docstring."""

    def __init__(
        self, base: faiss.IndexIVFScalarQuantizer, files: tuple[str, str] | None = None
    ) -> None:
        self.base = _searching_in_parallel(base)
        self.files = files  # (header, lists file) the base is mapped from; None: in memory
        self.base_rows = 0  # vector-file rows the mapped base covers
        self.recent: faiss.IndexIVFScalarQuantizer | None = None
        self.stale = np.zeros(0, bool)  # by segment id
        self.stale_count = 0
        # a selector of the ids not stale, the bitmap it negates, and that bitmap's bytes
        self._not_stale: tuple[faiss.IDSelectorNot, faiss.IDSelectorBitmap, np.ndarray] | None = (
            None
        )

    @property
    def mapped(self) -> bool:
        return self.files is not None

    @property
    def nlist(self) -> int:
        return int(self.base.nlist)

    @property
    def ntotal(self) -> int:
        """Live codes: what the base holds and still counts, and the recent ones."""
        recent = self.recent.ntotal if self.recent is not None else 0
        return int(self.base.ntotal) - self.stale_count + int(recent)

    def empty_copy(self) -> faiss.IndexIVFScalarQuantizer:
        """An empty in-memory index with the same (trained) quantiser and codec."""
        return empty_like(self.base)

    # -- changes ----------------------------------------------------------------------
    def add(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        if not self.mapped:
            self.base.add_with_ids(matrix, ids)
            return
        if self.recent is None:
            self.recent = self.empty_copy()
        self.recent.add_with_ids(matrix, ids)

    def remove(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Forget ``ids``, held at vector-file ``rows``."""
        if len(ids) == 0:
            return
        if not self.mapped:
            self.base.remove_ids(faiss.IDSelectorBatch(ids))
            return
        self.forget(ids, rows < self.base_rows)

    def forget(self, ids: np.ndarray, in_base: np.ndarray) -> None:
        """Forget ``ids`` of a mapped index: those ``in_base`` become stale, the others
        leave ``recent``."""
        if self.recent is not None and not in_base.all():
            self.recent.remove_ids(faiss.IDSelectorBatch(ids[~in_base]))
        self._mark_stale(ids[in_base])

    def _mark_stale(self, ids: np.ndarray) -> None:
        ids = np.unique(ids)
        if len(ids) == 0:
            return
        if ids.max() >= len(self.stale):
            grown = np.zeros(max(int(ids.max()) + 1, 2 * len(self.stale)), bool)
            grown[: len(self.stale)] = self.stale
            self.stale = grown
        self.stale_count += len(ids) - int(np.count_nonzero(self.stale[ids]))
        self.stale[ids] = True
        self._not_stale = None

    def renumbered(self, kept_rows: np.ndarray) -> None:
        """The vector file was rewritten with only ``kept_rows`` (ascending): rows
        below ``base_rows`` are still the base's, now fewer."""
        self.base_rows = int(np.searchsorted(kept_rows, self.base_rows))

    # -- search -----------------------------------------------------------------------
    def search(
        self, query: np.ndarray, wanted: int, nprobe: int, allowed: np.ndarray | None
    ) -> np.ndarray:
        """Ids of the ``wanted`` best codes in the base and in ``recent`` (both, so up
        to twice as many), among the ids the bitmap ``allowed`` lets through."""
        keep: list[object] = []
        allowed_selector: faiss.IDSelector | None = None
        if allowed is not None:
            packed = np.packbits(allowed, bitorder="little")  # ids past its end: not allowed
            allowed_selector = faiss.IDSelectorBitmap(len(packed), faiss.swig_ptr(packed))
            keep += [packed, allowed_selector]  # faiss holds raw pointers to both
        base_selector: faiss.IDSelector | None = allowed_selector
        if self.stale_count:
            if self._not_stale is None:
                packed_stale = np.packbits(self.stale, bitorder="little")
                stale = faiss.IDSelectorBitmap(len(packed_stale), faiss.swig_ptr(packed_stale))
                self._not_stale = (faiss.IDSelectorNot(stale), stale, packed_stale)
            not_stale = self._not_stale[0]
            base_selector = (
                not_stale
                if allowed_selector is None
                else faiss.IDSelectorAnd(allowed_selector, not_stale)
            )
            keep += [base_selector, self._not_stale]
        found = [_search(self.base, query, wanted, nprobe, base_selector)]
        if self.recent is not None and self.recent.ntotal:
            found.append(_search(self.recent, query, wanted, nprobe, allowed_selector))
        del keep
        ids = np.concatenate(found)
        return np.unique(ids[ids >= 0])

    # -- files ------------------------------------------------------------------------
    def save(
        self, directory: Path, name: str, tag: str, rows: int, merge_fraction: float
    ) -> dict[str, Any]:
        """Write what the manifest needs to map this index again (its entry's ``ann*``
        fields): the base, rewritten when ``wants_merge``, and ``recent`` and the stale
        ids beside it. ``rows``: how many rows the vector file now has."""
        if self.wants_merge(merge_fraction):
            self._write_merged(directory, f"{name}.ann.{tag}", rows)
        assert self.files is not None
        header, data = self.files
        entry: dict[str, Any] = {
            "ann": header,
            "ann_data": data,
            "ann_rows": self.base_rows,
            "ann_recent": None,
            "ann_stale": None,
        }
        if self.recent is not None and self.recent.ntotal:
            entry["ann_recent"] = f"{name}.recent.{tag}.faiss"
            faiss.write_index(self.recent, str(directory / entry["ann_recent"]))
            _fsync(directory / entry["ann_recent"])
        if self.stale_count:
            entry["ann_stale"] = f"{name}.stale.{tag}.npy"
            with open(directory / entry["ann_stale"], "wb") as handle:
                np.save(handle, np.flatnonzero(self.stale))
            _fsync(directory / entry["ann_stale"])
        return entry

    @classmethod
    def load(cls, directory: Path, entry: dict[str, Any], rows: int) -> IvfIndex:
        """The index ``save`` described; ``rows``: the vector file's rows (an index
        saved before lists files existed covered them all)."""
        data = entry.get("ann_data")
        index = cls(read(directory, entry["ann"], data), (entry["ann"], data) if data else None)
        index.base_rows = int(entry.get("ann_rows", rows))
        if entry.get("ann_recent"):
            recent = faiss.read_index(str(directory / entry["ann_recent"]))
            if not isinstance(recent, faiss.IndexIVFScalarQuantizer) or recent.d != index.base.d:
                raise ValueError(f"{directory / entry['ann_recent']}: not an IVF-SQ8 index")
            index.recent = _searching_in_parallel(recent)
        if entry.get("ann_stale"):
            index._mark_stale(np.load(directory / entry["ann_stale"]).astype(np.int64))
        return index

    def wants_merge(self, merge_fraction: float) -> bool:
        """Whether the next save should rewrite the base rather than write beside it."""
        recent = self.recent.ntotal if self.recent is not None else 0
        return not self.mapped or recent + self.stale_count > merge_fraction * self.base.ntotal

    def _write_merged(self, directory: Path, stem: str, rows: int) -> None:
        """Write the live codes as a new base, covering the ``rows`` the vector file
        now has, and map it."""
        stale = self.stale if self.mapped and self.stale_count else None
        code_size = int(self.base.code_size)

        def merged() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for number in range(self.nlist):
                codes, ids = _list_of(self.base, number, code_size)
                if stale is not None:
                    current = (ids >= len(stale)) | ~stale[np.minimum(ids, len(stale) - 1)]
                    codes, ids = codes[current], ids[current]
                if self.recent is not None:
                    more_codes, more_ids = _list_of(self.recent, number, code_size)
                    codes = np.concatenate([codes, more_codes])
                    ids = np.concatenate([ids, more_ids])
                yield codes, ids

        self.files = _write_lists(self.base, merged(), directory, stem)
        self.base, self.base_rows = read(directory, *self.files), rows
        self.recent, self.stale, self.stale_count = None, np.zeros(0, bool), 0
        self._not_stale = None


def build(
    trained: faiss.IndexIVFScalarQuantizer,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    directory: Path,
    stem: str,
    rows: int,
) -> IvfIndex:
    """Fill a trained, empty index with ``chunks`` of (ids, vectors) straight into a
    mapped lists file, covering the vector file's first ``rows``: process memory holds
    20 B per vector (its list number, id and place in list order) instead of every code,
    as adding them to the index in memory did (3.8 GB per 384-d modality at 10M, 12.8 GB
    for the image features). The codes are written to a scratch file in the chunks'
    order, then copied list by list."""
    scratch = directory / f"{stem}.codes.tmp"
    numbers, ids = [], []
    with open(scratch, "wb") as handle:
        for chunk_ids, matrix in chunks:
            numbers.append(trained.quantizer.assign(matrix, 1).ravel().astype(np.int32))
            handle.write(trained.sq.compute_codes(matrix).tobytes())
            ids.append(chunk_ids)
    code_size = int(trained.code_size)
    every_id = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    every_number = np.concatenate(numbers) if numbers else np.zeros(0, np.int32)
    order = np.argsort(every_number, kind="stable")
    bounds = np.searchsorted(every_number[order], np.arange(trained.nlist + 1))
    codes = (
        np.memmap(scratch, np.uint8, "r", shape=(len(every_id), code_size))
        if len(every_id)
        else np.zeros((0, code_size), np.uint8)
    )

    def by_list() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for number in range(trained.nlist):
            picked = order[bounds[number] : bounds[number + 1]]
            yield np.asarray(codes[picked]), every_id[picked]

    files = _write_lists(trained, by_list(), directory, stem)
    scratch.unlink()  # still mapped until ``codes`` goes: Linux keeps it until then
    index = IvfIndex(read(directory, *files), files)
    index.base_rows = rows
    return index


def _write_lists(
    template: faiss.IndexIVFScalarQuantizer,
    lists: Iterable[tuple[np.ndarray, np.ndarray]],
    directory: Path,
    stem: str,
) -> tuple[str, str]:
    """Write (codes, ids) per list number as ``stem``.ivfdata in
    ``OnDiskInvertedLists``'s layout, and ``stem``.faiss, the index header (quantiser,
    codec, list offsets) naming it without a directory; both synced."""
    header, data = f"{stem}.faiss", f"{stem}.ivfdata"
    sizes = np.zeros(template.nlist, np.uint64)
    with open(directory / data, "wb") as handle:
        for number, (codes, ids) in enumerate(lists):
            handle.write(np.ascontiguousarray(codes).tobytes())
            handle.write(np.ascontiguousarray(ids, np.int64).tobytes())
            sizes[number] = len(ids)
        if not sizes.sum():
            handle.write(b"\0")  # mmap refuses an empty file
    _fsync(directory / data)
    index = empty_like(template)
    on_disk = faiss.OnDiskInvertedLists(index.nlist, index.code_size, data)  # no directory
    on_disk.set_all_lists_sizes(faiss.swig_ptr(sizes))
    on_disk.totsize = (directory / data).stat().st_size
    index.replace_invlists(on_disk, False)  # freed with ``on_disk``, after the write
    index.ntotal = int(sizes.sum())
    faiss.write_index(index, str(directory / header))
    _fsync(directory / header)
    return header, data


def read(directory: Path, header: str, data: str | None) -> faiss.IndexIVFScalarQuantizer:
    """A saved base, its lists file (``data``) in ``directory`` mapped read-only; an
    index saved before lists files existed (no ``data``) is read into memory."""
    if data is None:
        index = faiss.read_index(str(directory / header))
    else:
        raw = (directory / header).read_bytes()
        named = struct.pack("<Q", len(data)) + data.encode()
        path = str((directory / data).resolve()).encode()
        if raw.count(named) != 1:
            raise ValueError(f"{directory / header}: does not name {data}")
        index = faiss.deserialize_index(
            np.frombuffer(raw.replace(named, struct.pack("<Q", len(path)) + path), np.uint8),
            faiss.IO_FLAG_READ_ONLY,
        )
    if not isinstance(index, faiss.IndexIVFScalarQuantizer):
        raise ValueError(f"{directory / header}: not an IVF-SQ8 index")
    if data is not None:
        lists = faiss.downcast_InvertedLists(index.invlists) if index.invlists else None
        if not isinstance(lists, faiss.OnDiskInvertedLists):
            raise ValueError(f"{directory / header}: its lists are not in {data}")
        if (directory / data).stat().st_size < lists.totsize:  # reading past the end: SIGBUS
            raise ValueError(f"{directory / data}: shorter than its header says")
        # By default every search starts up to 32 threads to read its probed lists ahead:
        # 4 ms a query with the lists in page cache (0.2 ms without, at 300k vectors).
        lists.prefetch_nthread = 0
    return _searching_in_parallel(index)


def empty_like(index: faiss.IndexIVFScalarQuantizer) -> faiss.IndexIVFScalarQuantizer:
    """An empty in-memory index with ``index``'s trained quantiser and codec."""
    out = faiss.IndexIVFScalarQuantizer(
        faiss.clone_index(index.quantizer),
        index.d,
        index.nlist,
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
        False,
    )
    out.sq.trained = index.sq.trained
    out.is_trained = True
    return _searching_in_parallel(out)


def untrained(dim: int, lists: int) -> faiss.IndexIVFScalarQuantizer:
    """Codes of the vectors themselves rather than of their residuals to the list
    centroids: at 1M segments both gave the same recall@10 and latency."""
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim),
        dim,
        lists,
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
        False,
    )
    index.cp.niter = 10
    index.cp.min_points_per_centroid = 1  # quiet
    return _searching_in_parallel(index)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _list_of(
    index: faiss.IndexIVFScalarQuantizer, number: int, code_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of one inverted list's codes (rows of ``code_size`` bytes) and ids."""
    lists = index.invlists
    assert lists is not None
    size = lists.list_size(number)
    if size == 0:
        return np.zeros((0, code_size), np.uint8), np.zeros(0, np.int64)
    codes = faiss.rev_swig_ptr(lists.get_codes(number), size * code_size).copy()
    ids = faiss.rev_swig_ptr(lists.get_ids(number), size).copy()
    return codes.reshape(size, code_size), ids.astype(np.int64)


def _search(
    index: faiss.IndexIVFScalarQuantizer,
    query: np.ndarray,
    wanted: int,
    nprobe: int,
    selector: faiss.IDSelector | None,
) -> np.ndarray:
    params = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    if selector is not None:
        params.sel = selector
    _, found = index.search(query.reshape(1, -1), wanted, params=params)
    return np.asarray(found[0], np.int64)


def _searching_in_parallel(
    index: faiss.IndexIVFScalarQuantizer,
) -> faiss.IndexIVFScalarQuantizer:
    """Split one query's probed lists over the cores (faiss's default splits a batch's
    queries, leaving one query to one core): at 1M segments twice as fast on two idle
    cores. Not saved in the file, so set after every read."""
    index.parallel_mode = 1
    return index

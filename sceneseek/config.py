"""One typed configuration for the whole pipeline.

Values come from (highest first): keyword arguments, environment variables
``SCENESEEK_<FIELD>`` (nested with ``__``, e.g. ``SCENESEEK_SEGMENT__MAX_SECONDS``),
a TOML file (``SCENESEEK_CONFIG`` or ``sceneseek.toml`` in the working directory),
then the defaults below.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Defined apart so the CLI's help can list them without pydantic; still importable here.
from sceneseek.modalities import ALL_MODALITIES as ALL_MODALITIES
from sceneseek.modalities import TEXT_MODALITIES as TEXT_MODALITIES
from sceneseek.modalities import Modality as Modality


class SegmentConfig(BaseModel):
    """How videos are cut into searchable segments."""

    sample_fps: float = Field(2.0, gt=0, description="frames per second sampled for analysis")
    shot_threshold: float = Field(
        0.35, gt=0, le=2, description="histogram L1 distance that marks a shot boundary"
    )
    min_seconds: float = Field(1.0, ge=0, description="shorter shots merge into a neighbour")
    max_seconds: float = Field(6.0, gt=0, description="longer shots are split evenly")
    detail_fps: float = Field(
        1.0, ge=0, description="full-detail frames per second for OCR and attributes"
    )
    people_fps: float = Field(
        3.0,
        ge=0,
        description="detail frames per second for people detection and tracking: timing"
        " a walk across a zone wants ~3, which OCR and the visual model do not need",
    )
    detail_short_side: int = Field(480, ge=64, description="cap on detail frame resolution")


class EncoderConfig(BaseModel):
    """Which registered encoder serves each modality (see ``sceneseek.encoders``)."""

    text: str = "e5-small"
    visual: str = "effnet-lite0-conse"
    speech: str = Field(
        "whisper-base",
        description="whisper-base: multilingual, language per speech island;"
        " whisper-tiny.en: English-only libraries (less memory, no language detection)",
    )
    speech_languages: list[str] = Field(
        default_factory=lambda: ["en", "es"],
        description="ISO 639-1 codes the footage speaks: whisper-base guesses each speech"
        " island's language among these only (an empty list: any of Whisper's 99)",
    )
    ocr: str = "ocr-tesseract"
    sound: str = "yamnet"
    people: str = "people-hog"
    people_loiter_seconds: float = Field(
        30.0,
        gt=0,
        description="a person staying this long in one camera zone is loitering (an event"
        " queries can ask about: 'loitering in the gate zone for more than 2 minutes')",
    )
    attributes: str = "attributes-pixels"
    clip_model: str | None = Field(
        None, description="local path or hub id of CLIP/SigLIP weights for visual='clip'"
    )
    visual_top_labels: int = Field(5, ge=1, le=50, description="class names kept per segment")
    visual_class_texts: Literal["names", "hierarchy", "prompts"] = Field(
        "prompts",
        description="what a class means in text space (effnet-*-conse): its bare name, one"
        " passage with WordNet synonyms and broader/narrower terms, or that averaged with"
        " photo prompts and the gloss",
    )
    visual_broader_terms: int = Field(
        4, ge=0, le=20, description="WordNet broader terms in each class's text (nearest first)"
    )


# Resolutions a zone drawn in pixels may name instead of WIDTHxHEIGHT.
NAMED_RESOLUTIONS = {
    "vga": (640, 480),
    "hd": (1280, 720),
    "fhd": (1920, 1080),
    "uhd": (3840, 2160),
    "480p": (854, 480),
    "576p": (768, 576),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "1440p": (2560, 1440),
    "4k": (3840, 2160),
}


def parse_resolution(text: str) -> tuple[int, int]:
    """(width, height) of "1920x1080" or a name of ``NAMED_RESOLUTIONS``."""
    named = NAMED_RESOLUTIONS.get(text.strip().lower())
    if named:
        return named
    width, sep, height = text.strip().lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) * int(height):
        raise ValueError(
            f"resolution {text!r} is neither WIDTHxHEIGHT nor one of {sorted(NAMED_RESOLUTIONS)}"
        )
    return int(width), int(height)


def parse_points(text: str) -> list[tuple[float, float]]:
    """Vertices of "x1,y1 x2,y2 ..." (the CLI's and TOML's short form)."""
    points = []
    for pair in text.split():
        x, sep, y = pair.partition(",")
        try:
            points.append((float(x), float(y)))
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f'vertex {pair!r} is not X,Y (expected "x1,y1 x2,y2 ...")')
    return points


def points_text(points: list[tuple[float, float]] | tuple[tuple[float, float], ...]) -> str:
    """The short form "x1,y1 x2,y2 ..." of vertices (``parse_points`` reads it back)."""
    return " ".join(f"{x:.4g},{y:.4g}" for x, y in points)


class ZoneConfig(BaseModel):
    """A named area of one camera's picture, a polygon in frame fractions (0,0 top left,
    1,1 bottom right) so it holds at any decoding size. Drawn in pixels, it names the
    resolution they are of and is converted to fractions on load."""

    points: list[tuple[float, float]] = Field(
        description='vertices in order, "x1,y1 x2,y2 ..." or [[x1, y1], ...]'
    )
    resolution: str | None = Field(
        None,
        description="the points are pixels of this resolution (WIDTHxHEIGHT or 720p, 1080p"
        " ...); none: frame fractions",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: object) -> object:
        """A bare string or list is the points alone (fractions)."""
        if isinstance(value, str | list):
            value = {"points": value}
        if isinstance(value, dict) and isinstance(value.get("points"), str):
            value = {**value, "points": parse_points(value["points"])}
        return value

    @model_validator(mode="after")
    def _to_fractions(self) -> ZoneConfig:
        if self.resolution is not None:
            width, height = parse_resolution(self.resolution)
            outside = [p for p in self.points if not (0 <= p[0] <= width and 0 <= p[1] <= height)]
            if outside:
                raise ValueError(f"vertex {outside[0]} lies outside the {width}x{height} frame")
            self.points = [(x / width, y / height) for x, y in self.points]
            self.resolution = None
        outside = [p for p in self.points if not (0 <= p[0] <= 1 and 0 <= p[1] <= 1)]
        if outside:
            raise ValueError(
                f"vertex {outside[0]} is not in frame fractions 0..1 (pixels need a resolution)"
            )
        if len(self.points) < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {len(self.points)}")
        xs, ys = zip(*self.points, strict=True)
        area = sum(xs[i - 1] * ys[i] - xs[i] * ys[i - 1] for i in range(len(xs))) / 2
        if abs(area) < 1e-6:
            raise ValueError("the polygon has no area (its vertices lie on one line)")
        return self


class CameraConfig(BaseModel):
    """One entry of the camera registry."""

    name: str | None = None
    zone: str | None = Field(
        None, description="default zone of this camera's videos (the whole picture)"
    )
    timezone: str = Field("UTC", description="IANA zone for start times without an offset")
    zones: dict[str, ZoneConfig] = Field(
        default_factory=dict,
        description="named areas of the picture; people entering, leaving and loitering in"
        " each become timed events",
    )

    @field_validator("zones", mode="before")
    @classmethod
    def _name_each_zone(cls, value: object) -> object:
        """Validate zone by zone, so an error names the zone (its location, the camera)."""
        if not isinstance(value, dict):
            return value
        zones = {}
        for name, zone in value.items():
            if not str(name).strip():
                raise ValueError("a zone needs a name")
            try:
                zones[name] = ZoneConfig.model_validate(zone)
            except ValidationError as exc:
                raise ValueError(f"zone {name!r}: {validation_causes(exc)}") from None
        return zones


def validation_causes(exc: ValidationError) -> str:
    """A validation error's causes in one line, without pydantic's prefixes."""
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


class MetadataConfig(BaseModel):
    """Where per-video camera/zone/start come from when not given on the command line."""

    filename_pattern: str = Field(
        r"(?P<camera>cam-?\d+)_(?P<start>\d{8}T\d{6})",
        description="regex with named groups camera, zone, start (YYYYmmddTHHMMSS)",
    )
    cameras: dict[str, CameraConfig] = Field(default_factory=dict)


class CutoffModelConfig(BaseModel):
    """Logistic regression giving a moment's probability of being a good match from
    evidence of fixed meaning (search/relevance.py FEATURES). The defaults are fitted on
    the benchmark's tune half by bench/cutoff.py, which prints them."""

    bias: float = -8.9144
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "words": 9.2087,  # raw e5 cosine to the moment's speech or on-screen text
            "said": -0.168,  # it has speech or on-screen text at all
            "visual": 24.3013,  # visual similarity less the query's nearest class names'
            "keyword": 2.7179,  # fraction of the query's content words in the moment
            "standout": 0.4292,  # the list's top over the mean of the next nine
        }
    )
    missing: dict[str, float] = Field(
        default_factory=lambda: {"words": 0.8014, "visual": -0.0078, "keyword": 0.0472},
        description="the value of a feature a moment has no evidence for (no such text)",
    )
    asked_words_z: float | None = Field(
        4.2082,
        description="a query that asks what is said or written needs the moment's speech or"
        " on-screen text at least this many standard deviations above the query's"
        " background similarity (feature words_z), or the moment is below the cut-off; so"
        " does a moment whose labels, sound tags and texts never name the query's subject"
        " when the classifiers could (feature unnamed_subject); none: no such rules",
    )


class SearchConfig(BaseModel):
    """Ranking knobs; defaults are the ones the benchmark picked (docs/BENCHMARKS.md)."""

    fusion: Literal["weighted", "rrf"] = "weighted"
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "visual": 0.75,  # chosen on the tune half with prompt-ensemble class texts
            "speech": 0.5,
            "ocr": 0.5,
            "sound": 0.5,
            "people": 0.5,
            "attributes": 1.0,  # colours, brightness, camera motion (encoders/attributes.py)
            "keyword": 0.5,
            "image": 1.0,  # image↔image similarity, used by example-image and similar searches
            "fused": 1.0,  # the whole-segment vector; weight chosen on the benchmark
        }
    )
    use_learned: bool = Field(
        True,
        description="rank with the weights `sceneseek learn` adopted in the index, if any"
        " (false pins the weights above)",
    )
    cutoff: float | None = Field(
        0.1755,
        ge=0,
        le=1,
        description="relevance cut-off of text searches, so 'no good match' is an answer:"
        " a moment is a good match when cutoff_model gives it at least this probability;"
        " every other result is marked below_cutoff (a weaker match); none: no cut-off."
        " Chosen on the benchmark's tune half by bench/cutoff.py, with cutoff_model",
    )
    cutoff_model: CutoffModelConfig = Field(
        default_factory=lambda: CutoffModelConfig(),
        description="the logistic model the cut-off reads (search/relevance.py)",
    )
    cutoff_fraction: float = Field(
        0.45,
        ge=0,
        le=1,
        description="under the cut-off too: results scoring less than this fraction of the"
        " top one (chosen with `cutoff`)",
    )
    max_image_pixels: int = Field(
        50_000_000,
        ge=1,
        description="query images that would decode to more pixels are refused from their"
        " header, before decoding (JPEGs decode at up to 1/8 scale first)",
    )
    candidates: int = Field(200, ge=10, description="k-NN depth per modality before fusion")
    merge_gap_seconds: float = Field(1.0, ge=0, description="hits closer than this merge")
    max_moment_seconds: float = Field(30.0, gt=0)
    neighbour_support: float = Field(
        0.0,
        ge=0,
        description="a segment's score gains this fraction of its best touching neighbour's"
        " (evidence from the next segment supports a match); 0: off (docs/BENCHMARKS.md)",
    )


class MonitorConfig(BaseModel):
    """Drift thresholds (``sceneseek stats``, ``/metrics``) and log output. The defaults
    come from the sample media: indexing more of the same stays well below them, a
    different kind of footage goes above (tests/test_monitor.py)."""

    drift_reference_segments: int = Field(
        500, ge=1, description="the reference window: the first N segments stored"
    )
    drift_recent_segments: int = Field(
        500, ge=1, description="the recent window: the last N segments after the reference"
    )
    drift_recent_hours: float | None = Field(
        None, gt=0, description="recent window: only segments stored in the last N hours"
    )
    drift_min_segments: int = Field(
        20, ge=1, description="fewer segments with a modality in a window: no verdict"
    )
    drift_centroid_warn: float = Field(
        0.8, gt=0, description="warn above this mean-vector move, in reference spreads"
    )
    drift_labels_warn: float = Field(
        0.5, gt=0, le=1, description="warn above this Jensen-Shannon divergence of labels"
    )
    log_format: Literal["text", "json"] = "text"
    log_level: str = Field("INFO", pattern=r"^(?i:debug|info|warning|error)$")


class FaissConfig(BaseModel):
    """The embedded backend's vector store: Faiss over the catalogue's copy."""

    ann_threshold: int = Field(
        50_000,
        ge=1,
        description="vectors of one modality above which a quantised IVF-SQ8 index (trained"
        " in the background) replaces exact search (docs/SCALING.md)",
    )


class MilvusConfig(BaseModel):
    """The milvus backend's vector store (``pip install 'sceneseek[milvus]'``)."""

    uri: str | None = Field(
        None,
        description="http://host:19530 for a Milvus server or cluster, or a file path for"
        " milvus-lite; default: milvus-lite in <db>/milvus.db",
    )
    token: str | None = Field(None, description="user:password or API key, if any")
    collection_prefix: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="collections are <prefix>_<modality>; default: sceneseek_<random>,"
        " chosen when the index is created and recorded in it",
    )
    index: Literal["HNSW", "FLAT", "AUTOINDEX"] = Field(
        "HNSW", description="vector index type of new Milvus collections"
    )
    keyword: Literal["catalogue", "milvus"] = Field(
        "catalogue",
        description="where BM25 runs: the catalogue's FTS5, or Milvus (≥ 2.5 or milvus-lite)",
    )


# Settings of one backend, formerly flat in [index]: old name → (section, new name).
FLAT_INDEX_KEYS = {
    "ann_threshold": ("faiss", "ann_threshold"),
    "milvus_uri": ("milvus", "uri"),
    "milvus_token": ("milvus", "token"),
    "collection_prefix": ("milvus", "collection_prefix"),
    "milvus_index": ("milvus", "index"),
    "keyword": ("milvus", "keyword"),
}


class IndexConfig(BaseModel):
    """Which index backend stores a new library (an existing one keeps the backend it
    was written with), and each backend's settings in its own section. ``embedded``
    needs nothing; ``milvus`` keeps the catalogue in the --db directory and the vectors
    in Milvus (docs/SCALING.md)."""

    backend: Literal["embedded", "milvus"] = "embedded"
    faiss: FaissConfig = Field(default_factory=FaissConfig)
    milvus: MilvusConfig = Field(default_factory=MilvusConfig)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: object) -> object:
        """Read the flat keys of older configs (``milvus_uri`` is ``milvus.uri``)."""
        if not isinstance(data, dict) or not FLAT_INDEX_KEYS.keys() & data.keys():
            return data
        data = dict(data)
        for old, (section, name) in FLAT_INDEX_KEYS.items():
            if old in data:
                data[section] = {**dict(data.get(section) or {}), name: data.pop(old)}
        return data


class LanguageConfig(BaseModel):
    """Search across languages (``sceneseek.language``): non-English queries are also
    searched in English translation, and non-English speech and on-screen text get an
    English translation as extra keyword text. Translation is Apertium's (offline; the
    pairs come from scripts/install-system-deps.sh)."""

    translate_queries: bool = Field(
        True, description="search a non-English query in its English translation too"
    )
    translate_index: bool = Field(
        False,
        description="index English translations of non-English speech and on-screen text"
        " for keyword search (applies to videos indexed afterwards; off: no gain on the"
        " benchmark's tune half, docs/BENCHMARKS.md)",
    )
    pairs: dict[str, str] = Field(
        default_factory=lambda: {
            "es": "spa-eng",
            "ca": "cat-eng",
            "gl": "gl-en",
            "eu": "eu-en",
            "eo": "eo-en",
            "is": "isl-eng",
            "mk": "mkd-eng",
            "hr": "hbs-eng",
            "sr": "hbs-eng",
            "bs": "hbs-eng",
        },
        description="ISO 639-1 code → Apertium mode translating it into English",
    )
    english_mode: str = Field(
        "eng-spa", description="an Apertium mode reading English (detection counts its words)"
    )
    keep_apertium_running: bool = Field(
        True,
        description="keep one Apertium process per mode running between queries (off: one"
        " started per call, 0.1-0.4 s each)",
    )
    one_shot_modes: list[str] = Field(
        default_factory=lambda: ["cat-eng"],
        description="Apertium modes whose translation starts per call even so: cat-eng's"
        " tagger carries state from one request to the next, so a kept-running one answers"
        " by what it was asked before (bench/apertium_latency.py checks every mode)",
    )
    detect: list[str] = Field(
        default_factory=lambda: ["fr", "de", "it", "pt"],
        description="languages recognised beyond those of `pairs` (searched as typed)",
    )
    preferred: list[str] = Field(
        default_factory=lambda: ["es"],
        description="after English, the languages detection favours on a tie",
    )


class AlertsConfig(BaseModel):
    """Where alert webhooks may post. Nothing leaves this machine unless listed here: by
    default a webhook may only reach loopback (127.0.0.0/8, ::1). Checked when an alert
    is saved and again on every post, against the addresses the host resolves to then."""

    webhook_hosts: list[str] = Field(
        default_factory=list,
        description="host names, IP addresses or networks (CIDR) beyond loopback that"
        " webhooks may reach, e.g. ['hooks.lan', '10.0.5.0/24']; a name allows whatever it"
        " resolves to, an address or network only itself",
    )


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCENESEEK_", env_nested_delimiter="__", extra="forbid"
    )

    modalities: list[Modality] = Field(
        default_factory=lambda: list(ALL_MODALITIES),
        description="what to index and search (ablations: drop one and re-run the benchmark)",
    )
    segment: SegmentConfig = SegmentConfig()
    metadata: MetadataConfig = MetadataConfig()
    encoders: EncoderConfig = EncoderConfig()
    search: SearchConfig = SearchConfig()
    index: IndexConfig = IndexConfig()
    monitor: MonitorConfig = MonitorConfig()
    language: LanguageConfig = LanguageConfig()
    alerts: AlertsConfig = AlertsConfig()
    cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sceneseek"
        ),
        description="derived, re-computable data such as class-name embeddings",
    )
    threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)

    def fingerprint(self) -> str:
        """A digest of every setting: a process with the same one searches alike (a CLI
        search lets a running `serve` answer only then)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("SCENESEEK_CONFIG", "sceneseek.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

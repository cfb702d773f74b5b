"""The 1000 ImageNet-1k classes, written as plain human names (not WordNet lemmas) so they
embed well as text: ConSE labels, keyword labels, and a background vocabulary for
calibrating text similarities.

Each class is also a WordNet 3.0 synset, and the words around it are what users search
with: synonyms ("tabby" for "tabby cat"), broader terms (a goose is a bird; a baboon an
Old World monkey, a monkey, a primate, a mammal), kinds the classifier cannot tell apart
(a mandrill is a kind of baboon) and a gloss. ``imagenet_hierarchy.json`` holds them,
generated once from Debian's wordnet-base by ``scripts/build_class_hierarchy.py``, so
nothing here needs WordNet. They feed the class text embeddings (``class_texts``) and the
keyword text of a segment's labels (``label_keywords``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

CLASS_NAMES_FILE = "imagenet_classes.txt"
HIERARCHY_FILE = "imagenet_hierarchy.json"

ClassTexts = Literal["names", "hierarchy", "prompts"]
# Ways of saying "this frame shows a X" that a passage embedding can meet a query with;
# averaged, they describe the class rather than the bare word (Radford et al., 2021).
PROMPT_TEMPLATES = (
    "{}",
    "a photo of a {}",
    "a video frame showing a {}",
    "a close-up photo of a {}",
)
MAX_SYNONYMS = 3


@dataclass(frozen=True)
class ImageNetClass:
    name: str
    synonyms: tuple[str, ...]
    broader: tuple[str, ...]  # nearest first, up to (not including) abstract nodes
    narrower: tuple[str, ...]  # kinds of it that are not classes themselves
    gloss: str


def _data_text(name: str) -> str:
    return resources.files("sceneseek.encoders").joinpath("data", name).read_text()


@cache
def load_class_names() -> list[str]:
    names = [line.strip() for line in _data_text(CLASS_NAMES_FILE).splitlines() if line.strip()]
    if len(names) != 1000:
        raise RuntimeError(f"{CLASS_NAMES_FILE} must list 1000 ImageNet classes, has {len(names)}")
    return names


@cache
def load_classes() -> list[ImageNetClass]:
    """The classes in model output order, with their WordNet neighbourhood."""
    entries = json.loads(_data_text(HIERARCHY_FILE))["classes"]
    names = load_class_names()
    if [e["name"] for e in entries] != names:
        raise RuntimeError(
            f"{HIERARCHY_FILE} is out of date with {CLASS_NAMES_FILE}:"
            " run scripts/build_class_hierarchy.py"
        )
    return [
        ImageNetClass(
            e["name"], tuple(e["synonyms"]), tuple(e["broader"]), tuple(e["narrower"]), e["gloss"]
        )
        for e in entries
    ]


def class_terms() -> list[str]:
    """Every name, synonym, broader and narrower term of the classes: the words a label
    (and its keyword text, ``label_keywords``) can name a frame with."""
    return [
        term
        for entry in load_classes()
        for term in (entry.name, *entry.synonyms, *entry.broader, *entry.narrower)
    ]


def _hierarchy_text(entry: ImageNetClass, depth: int) -> str:
    """One passage naming the class the ways people do: "baboon, a kind of Old World
    monkey, monkey, primate, such as chacma, mandrill, drill"."""
    parts = [", ".join([entry.name, *entry.synonyms[:MAX_SYNONYMS]])]
    if depth and entry.broader:
        parts.append("a kind of " + ", ".join(entry.broader[:depth]))
    if entry.narrower:
        parts.append("such as " + ", ".join(entry.narrower))
    return ", ".join(parts)


def class_texts(entry: ImageNetClass, recipe: ClassTexts, depth: int) -> list[str]:
    """The passages whose mean embedding stands for a class in text space. ``names`` is
    the bare name; ``hierarchy`` one passage with synonyms, ``depth`` broader terms and
    narrower kinds; ``prompts`` averages the photo templates over the name and synonyms
    with that passage and the gloss."""
    if recipe == "names":
        return [entry.name]
    hierarchy = _hierarchy_text(entry, depth)
    if recipe == "hierarchy":
        return [hierarchy]
    words = [entry.name, *entry.synonyms[:MAX_SYNONYMS]]
    prompts = [template.format(word) for word in words for template in PROMPT_TEMPLATES]
    return [*prompts, hierarchy, f"{entry.name}: {entry.gloss}"]


@cache
def _keywords_by_name() -> dict[str, str]:
    return {
        entry.name: ", ".join(
            dict.fromkeys([entry.name, *entry.synonyms, *entry.narrower, *entry.broader])
        )
        for entry in load_classes()
    }


def label_keywords(names: Iterable[str]) -> str:
    """Keyword-searchable text of a segment's class labels: each name with its synonyms,
    narrower kinds and every broader term, so "bird" finds a goose by BM25 too. Names
    that are not ImageNet classes stay as they are."""
    table = _keywords_by_name()
    return ", ".join(table.get(name, name) for name in names)

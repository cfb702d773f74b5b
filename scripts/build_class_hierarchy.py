"""Writes sceneseek/encoders/data/imagenet_hierarchy.json: for each ImageNet-1k class, in
model output order, its WordNet 3.0 synonyms, broader terms (hypernyms), narrower terms
(hyponyms that are not classes themselves) and gloss.

The ImageNet-1k classes are WordNet noun synsets; ``imagenet_wnids.txt`` lists their ids
(``n`` + the synset's offset in WordNet 3.0's data.noun) in model order. WordNet comes
from Debian's ``wordnet-base`` package, fetched with ``apt-get download`` into the asset
cache (no install needed). Only this script reads WordNet: the result is shipped, so
indexing and search need neither WordNet nor network.

    python scripts/build_class_hierarchy.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sceneseek.eval.assets import AssetCache

DATA = Path(__file__).resolve().parent.parent / "sceneseek" / "encoders" / "data"
WNIDS = DATA / "imagenet_wnids.txt"
NAMES = DATA / "imagenet_classes.txt"
OUT = DATA / "imagenet_hierarchy.json"
DATA_NOUN = "usr/share/wordnet/data.noun"

# Hypernyms too abstract to help a searcher ("a kind of whole, object, entity"): the
# walk up from a class stops at the first of these.
ABSTRACT = frozenset(
    {
        "entity",
        "physical entity",
        "abstraction",
        "object",
        "whole",
        "living thing",
        "organism",
        "artifact",
        "instrumentality",
        "matter",
        "part",
        "thing",
        "causal agent",
        "psychological feature",
        "attribute",
        "group",
        "relation",
        "communication",
        "measure",
    }
)
MAX_NARROWER = 12  # a handful of kinds per class is enough to reach its common names


@dataclass
class Synset:
    lemmas: list[str]
    hypernyms: list[str]  # offsets; the first is WordNet's primary one
    hyponyms: list[str]
    gloss: str


def lemma_text(lemma: str) -> str:
    """WordNet writes ``Old_World_monkey``; adjectives may carry a marker like ``(a)``."""
    return lemma.split("(")[0].replace("_", " ")


def read_nouns(path: Path) -> dict[str, Synset]:
    """data.noun rows: offset lex_filenum ss_type w_cnt (word lex_id)×w_cnt p_cnt
    (symbol offset pos source/target)×p_cnt | gloss  (see wndb(5WN))."""
    synsets = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # licence header
            continue
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        count = int(fields[3], 16)
        lemmas = [lemma_text(fields[4 + 2 * i]) for i in range(count)]
        at = 4 + 2 * count
        pointers = int(fields[at])
        hypernyms, hyponyms = [], []
        for i in range(pointers):
            symbol, offset, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
            if pos == "n" and symbol in ("@", "@i"):
                hypernyms.append(offset)
            elif pos == "n" and symbol in ("~", "~i"):
                hyponyms.append(offset)
        definition = gloss.split('; "')[0].strip().rstrip(";").strip()
        synsets[fields[0]] = Synset(lemmas, hypernyms, hyponyms, definition)
    return synsets


def genera(synsets: dict[str, Synset]) -> frozenset[str]:
    """Names of taxonomic genera (synsets that also read "genus X"): a lemma starting
    with one is a scientific name ("Papio ursinus"), which nobody searches footage with."""
    return frozenset(
        lemma
        for synset in synsets.values()
        for lemma in synset.lemmas
        if f"genus {lemma}" in synset.lemmas or f"subgenus {lemma}" in synset.lemmas
    )


def common_names(lemmas: list[str], scientific: frozenset[str]) -> list[str]:
    return [lemma for lemma in lemmas if lemma.split()[0] not in scientific]


def broader(offset: str, synsets: dict[str, Synset]) -> list[str]:
    """Hypernym names nearest first: the primary chain up to the first abstract node,
    then what other parents add (a tabby is a domestic cat, and so a domestic animal)."""
    names: list[str] = []
    pending = list(synsets[offset].hypernyms)
    seen = {offset}
    while pending:
        node = pending.pop(0)
        name = synsets[node].lemmas[0]
        if node in seen or name in ABSTRACT:
            continue
        seen.add(node)
        names.append(name)
        primary, *others = synsets[node].hypernyms or [None]
        pending = ([primary] if primary else []) + pending + others
    return names


def narrower(
    offset: str, synsets: dict[str, Synset], classes: set[str], scientific: frozenset[str]
) -> list[str]:
    """Names of the direct kinds of a class that are not classes themselves (a mandrill
    is a kind of baboon): the classifier says "baboon" when it sees one."""
    names = [
        lemma
        for child in synsets[offset].hyponyms
        if child not in classes
        for lemma in common_names(synsets[child].lemmas, scientific)
    ]
    return list(dict.fromkeys(names))[:MAX_NARROWER]


def main() -> None:
    tree, version = AssetCache().debian_package("wordnet-base")
    synsets = read_nouns(tree / DATA_NOUN)
    wnids = WNIDS.read_text().split()
    names = [line.strip() for line in NAMES.read_text().splitlines() if line.strip()]
    if len(wnids) != len(names):
        raise SystemExit(f"{WNIDS.name} has {len(wnids)} ids, {NAMES.name} {len(names)} names")
    classes = {w[1:] for w in wnids}
    scientific = genera(synsets)
    entries = []
    for wnid, name in zip(wnids, names, strict=True):
        synset = synsets[wnid[1:]]
        entries.append(
            {
                "wnid": wnid,
                "name": name,
                "synonyms": [
                    s for s in common_names(synset.lemmas, scientific) if s.lower() != name.lower()
                ],
                "broader": broader(wnid[1:], synsets),
                "narrower": narrower(wnid[1:], synsets, classes, scientific),
                "gloss": synset.gloss,
            }
        )
    document = {
        "source": f"WordNet 3.0 (Debian wordnet-base {version}); see SOURCES.md",
        "classes": entries,
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n")
    print(f"wrote {len(entries)} classes to {OUT}")


if __name__ == "__main__":
    main()

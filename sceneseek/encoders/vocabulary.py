"""The 1000 ImageNet-1k class names, written as plain human names (not WordNet lemmas)
so they embed well as text: ConSE labels, keyword labels, and a background vocabulary
for calibrating text similarities."""

from __future__ import annotations

from functools import cache
from importlib import resources

CLASS_NAMES_FILE = "imagenet_classes.txt"


@cache
def load_class_names() -> list[str]:
    text = resources.files("sceneseek.encoders").joinpath("data", CLASS_NAMES_FILE).read_text()
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != 1000:
        raise RuntimeError(f"{CLASS_NAMES_FILE} must list 1000 ImageNet classes, has {len(names)}")
    return names

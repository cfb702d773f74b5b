"""The relevance cut-off: how likely a moment is a good match, so that "no good match" is
an answer.

The fused score does not compare across queries or libraries: each modality is
standardised per query against the library's own vectors, so a query that nothing answers
still finds its least-bad segments several deviations up. The cut-off therefore reads
evidence whose meaning is fixed (``FEATURES``) and turns it into a probability with a
small logistic model fitted on the benchmark's tune half (bench/cutoff.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sceneseek.errors import SceneseekError
from sceneseek.search.moments import Moment, standout

# What a model may weigh (see ``Moment.signals``, filled in search/engine.py, and
# ``features`` below): raw e5 cosines per modality, because one text threshold for every
# modality is crude (a sound tag such as "Speech" is short and comes close to unrelated
# queries), and the list's shape.
FEATURES = (
    "speech",  # raw e5 cosine of the query to the moment's transcript
    "ocr",  # ... to its on-screen text
    "words",  # the larger of those two: what is said or written
    "words_z",  # the same in standard deviations above the query's background similarity
    "said",  # 1 when the moment has speech or on-screen text, else 0
    "sound",  # ... to its sound tags
    "people",  # ... to its people descriptions
    "attributes",  # ... to its colours, brightness and motion
    "visual",  # visual similarity less the mean of the query's 5 nearest class names
    "keyword",  # fraction of the query's content words that occur in the moment
    "standout",  # how far the list's top rises above the mean of the next nine
    "lead",  # the moment's score less the next moment's
    "asks_words",  # 1 when the query asks what is said or written ("a sign that says")
    "unnamed_subject",  # 1 when the query's subject is a word the classifiers name things
    # with and the moment's labels, tags and texts do not contain it
)
SAID = ("speech", "ocr")
# Every moment has these; the others may be missing.
ALWAYS = ("said", "standout", "lead", "asks_words", "unnamed_subject")


def features(moments: list[Moment]) -> list[dict[str, float]]:
    """Each moment's features, ``moments`` ranked best first: its own signals (only those
    it has evidence for) and what it reads from the list."""
    rise = standout(moments)
    rows = []
    for i, moment in enumerate(moments):
        after = moments[i + 1].score if i + 1 < len(moments) else 0.0
        said = 1.0 if "words" in moment.signals else 0.0
        rows.append(
            {**moment.signals, "said": said, "standout": rise, "lead": moment.score - after}
        )
    return rows


@dataclass(frozen=True)
class RelevanceModel:
    """Logistic regression on ``FEATURES``: P(good match) = σ(bias + Σ weight × value), a
    feature the moment has no evidence for taking its ``missing`` value. A moment is
    marked below the cut-off when its probability is under ``threshold``, or it scores
    under ``min_fraction`` of the top (so a list whose top stands out does not carry
    every runner-up with it), or it does not answer the query as asked (``answers_as_asked``)."""

    weights: Mapping[str, float]
    bias: float
    missing: Mapping[str, float]
    threshold: float
    min_fraction: float = 0.0
    asked_words_z: float | None = None

    def __post_init__(self) -> None:
        if unknown := sorted((self.weights.keys() | self.missing.keys()) - set(FEATURES)):
            raise SceneseekError(
                f"search.cutoff_model names unknown features {', '.join(unknown)};"
                f" known: {', '.join(FEATURES)}"
            )

    def probability(self, row: Mapping[str, float]) -> float:
        logit = self.bias + sum(
            w * row.get(name, self.missing.get(name, 0.0)) for name, w in self.weights.items()
        )
        return 1 / (1 + math.exp(-max(-500.0, min(500.0, logit))))

    def mark(self, moments: list[Moment]) -> None:
        """Give each moment its probability and mark those below the threshold."""
        for moment, row in zip(moments, features(moments), strict=True):
            moment.relevance = self.probability(row)
            moment.below_cutoff = (
                moment.relevance < self.threshold
                or moment.score < self.min_fraction * moments[0].score
                or not answers_as_asked(row, self.asked_words_z)
            )


def answers_as_asked(row: Mapping[str, float], asked_words_z: float | None) -> bool:
    """False when the moment can only answer the query by its words and they are not
    close enough: its speech or on-screen text less than ``asked_words_z`` deviations
    above the query's background, when the query asks what is said or written (a query
    naming a sign or a sentence is answered by words, not by a picture that resembles
    it), or when the query's subject is a thing the classifiers name that the moment's
    evidence never names (the thatched roof for "a helicopter landing on a roof" shows
    a roof, not a helicopter; a transcript about a helicopter would answer). One pooled
    model weighs every query's evidence alike, so it cannot ask this per query."""
    if asked_words_z is None or not (row.get("asks_words") or row.get("unnamed_subject")):
        return True
    return row.get("words_z", -math.inf) >= asked_words_z

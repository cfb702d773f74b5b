"""Answering a query: embed it, gather candidates per modality (inside the filter),
fuse, merge into moments, and explain each moment per modality."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from sceneseek.config import TEXT_MODALITIES, SearchConfig
from sceneseek.encoders.base import unit
from sceneseek.encoders.people import NOBODY, STILL, without_durations
from sceneseek.encoders.sound_yamnet import reported_classes
from sceneseek.encoders.vocabulary import class_terms
from sceneseek.errors import QueryError
from sceneseek.index.base import (
    STOPWORDS,
    EventConditions,
    Index,
    SegmentFilter,
    StoredEvent,
    StoredSegment,
    label_text,
    observation_languages,
    observation_text,
)
from sceneseek.search import fusion
from sceneseek.search.moments import RUNNERS_UP, Moment, merge, standout
from sceneseek.search.query_parser import Chip
from sceneseek.search.relevance import SAID, RelevanceModel

if TYPE_CHECKING:  # ingest's decoding is no part of answering a query
    from sceneseek.ingest import Encoders

MAX_QUERY_CHARS = 1000
MIN_REFERENCE = 500
NEAREST_CLASSES = 5  # the query's nearest class names a visual match is measured against
# Observations of these modalities have tight times (word timestamps, caption frames,
# sound-event frames); people/motion descriptions span whole tracks, so they do not.
TIGHT_MODALITIES = ("speech", "ocr", "sound")
# An event scoring this many standard deviations under the best one is another kind of
# event than the query asks for ("enters" for "leaving"): shown, but below the cut-off.
EVENT_MARGIN = 1.0


@dataclass(frozen=True)
class QueryTranslation:
    """The query's language, and the English it was also searched as (None when there
    is no offline translation for that language; ``note`` says why)."""

    language: str
    text: str | None
    note: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"from": self.language, "text": self.text, "note": self.note}


@dataclass
class SearchResponse:
    query: str
    took_ms: float
    results: list[Moment] = field(default_factory=list)
    filters: SegmentFilter = field(default_factory=SegmentFilter)
    events: EventConditions = field(default_factory=EventConditions)  # searched events
    chips: list[Chip] = field(default_factory=list)  # filters read from the query's words
    searched: str | None = None  # the text searched by meaning, once those words are out
    translation: QueryTranslation | None = None  # None: English, or not translated
    cutoff: dict[str, float | None] | None = None  # the relevance cut-off applied (None: none)

    def to_dict(self) -> dict[str, Any]:
        where = self.filters
        window = where.time_of_day
        return {
            "query": self.query,
            "took_ms": round(self.took_ms, 2),
            "cutoff": self.cutoff,
            "results": [m.to_dict() for m in self.results],
            "translation": self.translation.to_dict() if self.translation else None,
            "filters": {
                "camera": where.camera,
                "zone": where.zone,
                "time_of_day": f"{_hhmm(window[0])}-{_hhmm(window[1])}" if window else None,
                "after": where.after.isoformat() if where.after else None,
                "before": where.before.isoformat() if where.before else None,
                "weekdays": sorted(where.weekdays) if where.weekdays is not None else None,
                "video": where.video,
                "event_zone": self.events.zone,
                "min_dwell": self.events.min_dwell,
                "min_count": self.events.min_count,
                "from_query": [{"filter": c.filter, "label": c.label} for c in self.chips],
                "searched": self.searched if self.searched is not None else self.query,
            },
        }


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


class Searcher:
    def __init__(
        self, index: Index, encoders: Encoders, config: SearchConfig, modalities: list[str]
    ) -> None:
        self.index = index
        self.encoders = encoders
        self.config = config
        self.modalities = modalities

    def search(
        self,
        query: str,
        top_k: int,
        where: SegmentFilter,
        offset: int = 0,
        more_like: Sequence[int] = (),
        not_like: Sequence[int] = (),
        english: str | None = None,
    ) -> SearchResponse:
        """Natural-language search: every enabled modality plus BM25, refined by the
        segments the user marked relevant (``more_like``) or not (``not_like``). A
        non-English query's ``english`` translation is searched together with it: each
        query vector is the mean of the two phrasings' (so a modality scores the mean of
        their similarities) and BM25 matches the words of both."""
        started = time.perf_counter()
        text = _validate(query)
        vectors = self._embed(text, english)
        if more_like or not_like:
            vectors = rocchio(vectors, self._vectors_of(more_like), self._vectors_of(not_like))
        words = _both(text, english)
        response = self._rank(
            query, vectors, words, top_k + len(not_like), where, offset, started, english=english
        )
        rejected = set(not_like)
        response.results = [
            m for m in response.results if not rejected & {s.id for s in m.segments}
        ][:top_k]
        return response

    def search_events(
        self,
        query: str,
        top_k: int,
        where: SegmentFilter,
        stated: EventConditions,
        offset: int = 0,
        english: str | None = None,
    ) -> SearchResponse:
        """A query that states people-event conditions: the stored events meeting them
        (and the filter), ranked by how close their sentence is to the rest of the query,
        since the kind of event (entering, leaving, loitering) is left to meaning; each is
        one moment spanning the event's start and end, however many segments it crosses.
        Scores are standardised against the stored people descriptions, as the people
        modality's evidence is."""
        started = time.perf_counter()
        text = _validate(query)
        if top_k < 1 or offset < 0:
            raise QueryError(f"top-k must be ≥ 1 and offset ≥ 0, got {top_k} and {offset}")
        vector = _mean(self.encoders.text.embed_queries([text, english] if english else [text]))
        # Events are said in few distinct sentences (fewer still without their durations):
        # rank those, then fetch events of the best ones until the page is full.
        texts = self.index.event_texts(where, stated)
        sentences = [without_durations(t) for t in texts]
        distinct = list(dict.fromkeys(sentences))
        closeness = dict(zip(distinct, self.encoders.passages(distinct) @ vector, strict=True))
        similarity = np.array([closeness[s] for s in sentences], np.float32)
        reference = self.index.reference_vectors("people")
        scores = fusion.standardise(
            [(i, float(s)) for i, s in enumerate(similarity)],
            reference @ vector if len(reference) else np.zeros(0),
        )
        ranked = sorted(scores, key=lambda i: (-scores[i], texts[i]))
        best = scores[ranked[0]] if ranked else 0.0
        found: list[tuple[StoredEvent, int]] = []
        for i in ranked:
            wanted = offset + top_k - len(found)
            if wanted <= 0:
                break
            found += [(e, i) for e in self.index.events(where, stated, texts[i], wanted)]
        moments = []
        for event, i in found[offset:]:
            during = self.index.segments_during(event.video_id, event.start, event.end)
            if not during:
                continue
            moment = Moment(
                event.video,
                event.start,
                event.end,
                scores[i],
                during,
                {"event": scores[i]},
                below_cutoff=scores[i] < best - EVENT_MARGIN,
                event=event,
            )
            moment.segments = [moment.shown, *(s for s in during if s is not moment.shown)]
            moment.evidence = {
                "event": {
                    "contribution": round(scores[i], 3),
                    "similarity": round(float(similarity[i]), 4),
                    "text": event.text,
                }
            }
            moments.append(moment)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=query, took_ms=took, results=moments)

    def _vectors_of(self, segment_ids: Sequence[int]) -> list[dict[str, np.ndarray]]:
        return [self.index.segment_vectors(i) for i in segment_ids]

    def search_vectors(
        self,
        label: str,
        query_vectors: dict[str, np.ndarray],
        top_k: int,
        where: SegmentFilter,
        offset: int = 0,
        exclude: int | None = None,
    ) -> SearchResponse:
        """Search by example (an image, or a segment's own vectors): k-NN per modality."""
        started = time.perf_counter()
        return self._rank(label, query_vectors, None, top_k, where, offset, started, exclude)

    def _rank(
        self,
        label: str,
        query_vectors: dict[str, np.ndarray],
        text: str | None,
        top_k: int,
        where: SegmentFilter,
        offset: int,
        started: float,
        exclude: int | None = None,
        english: str | None = None,
    ) -> SearchResponse:
        if top_k < 1 or offset < 0:
            raise QueryError(f"top-k must be ≥ 1 and offset ≥ 0, got {top_k} and {offset}")
        ranked = {
            m: self.index.knn(m, vector, self.config.candidates, where)
            for m, vector in query_vectors.items()
        }
        if text is not None:
            fields = self._keyword_fields()
            ranked["keyword"] = self.index.keyword(text, self.config.candidates, where, fields)
        contributions = self._fuse(ranked, query_vectors)
        if exclude is not None:
            contributions.pop(exclude, None)
        wanted = offset + top_k
        # The cut-off compares the top with its runners-up, so they are ranked whatever
        # the page asked for.
        scored = sorted(
            ((i, sum(c.values()), c) for i, c in contributions.items()),
            key=lambda item: item[1],
            reverse=True,
        )[: max(wanted, RUNNERS_UP + 1) * 8]
        stored = self.index.segments([i for i, _, _ in scored])
        if text is not None and not asks_for_nothing(text):
            scored = _without_nothing(scored, stored)
        if self.config.neighbour_support:
            scored = _supported(
                scored, stored, self.config.neighbour_support, self.config.merge_gap_seconds
            )
        ranked_moments = merge(
            [(stored[i], score, c) for i, score, c in scored if i in stored],
            gap=self.config.merge_gap_seconds,
            max_seconds=self.config.max_moment_seconds,
        )
        cutoff = None
        # Fitted on text queries; searches by example score on other scales.
        if text is not None:
            self._relevance_evidence(ranked_moments, ranked, query_vectors, text, english)
            if self.config.cutoff is not None:
                fitted = self.config.cutoff_model
                RelevanceModel(
                    fitted.weights,
                    fitted.bias,
                    fitted.missing,
                    self.config.cutoff,
                    self.config.cutoff_fraction,
                    fitted.asked_words_z,
                ).mark(ranked_moments)
                cutoff = {
                    "min_relevance": self.config.cutoff,
                    "min_fraction": self.config.cutoff_fraction,
                    "asked_words_z": fitted.asked_words_z,
                    "standout": round(standout(ranked_moments), 4),
                }
        moments = ranked_moments[offset:wanted]
        for moment in moments:
            _explain(moment, ranked, text or "")
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(query=label, took_ms=took, results=moments, cutoff=cutoff)

    def _relevance_evidence(
        self,
        moments: list[Moment],
        ranked: dict[str, list[tuple[int, float]]],
        query_vectors: dict[str, np.ndarray],
        words: str,
        english: str | None,
    ) -> None:
        """Give each moment the evidence of fixed meaning the cut-off reads besides the
        scores (``Moment.signals``), from the similarities already ranked: its best
        segment's raw cosine to the query per text modality, and the best of speech and
        on-screen text also in standard deviations above the query's similarities to the
        background vocabulary (e5 puts some queries close to any text, so one raw cosine
        reads differently per query); its visual similarity less the mean of the query's
        ``NEAREST_CLASSES`` class-name similarities (the background vocabulary is the
        class names a ConSE visual vector is a mixture of; a visual encoder in another
        space gets no margin); and the fraction of the query's content words it
        contains; whether the query asks what is said or written; and whether the query's
        subject is a thing the library's classifiers name that the moment's labels, tags
        and texts never name (``_nameable_subject``)."""
        raw = {m: dict(scores) for m, scores in ranked.items()}
        content = _content_words(words)
        asks_words = 1.0 if asks_what_is_said(words) else 0.0
        classes = self.encoders.background
        text = query_vectors.get("fused")
        background = classes @ text if text is not None else None
        nearest = None
        visual = query_vectors.get("visual")
        if visual is not None and classes.shape[1] == visual.shape[0]:
            nearest = float(np.sort(classes @ visual)[-NEAREST_CLASSES:].mean())
        # Only a ConSE visual encoder puts ImageNet class labels on segments.
        subject = _nameable_subject(english or words, nearest is not None, "sound" in ranked)
        for moment in moments:
            best = moment.segments[0]
            signals: dict[str, float] = {
                m: raw[m][best.id] for m in TEXT_MODALITIES if best.id in raw.get(m, {})
            }
            said = [signals[m] for m in SAID if m in signals]
            if said:
                signals["words"] = max(said)
                if background is not None:
                    signals["words_z"] = float((max(said) - background.mean()) / background.std())
            if nearest is not None and best.id in raw.get("visual", {}):
                signals["visual"] = raw["visual"][best.id] - nearest
            present = _evidence_words(best)
            if content:
                signals["keyword"] = sum(w in present for w in content) / len(content)
            signals["asks_words"] = asks_words
            # Named anywhere in the moment: a sound crossing segments is one moment.
            named = (
                subject is None
                or subject in present
                or any(subject in _evidence_words(s) for s in moment.segments[1:])
            )
            signals["unnamed_subject"] = 0.0 if named else 1.0
            moment.signals = signals

    def _keyword_fields(self) -> tuple[str, ...]:
        """BM25 columns: the enabled text modalities, and visual class names."""
        fields: tuple[str, ...] = tuple(m for m in self.modalities if m in TEXT_MODALITIES)
        return (*fields, "labels") if "visual" in self.modalities else fields

    def _embed(self, text: str, english: str | None = None) -> dict[str, np.ndarray]:
        """One query vector per enabled modality; all text modalities share e5's. With an
        English translation, the mean of both phrasings' unit vectors."""
        texts = [text, english] if english else [text]
        text_vector = _mean(self.encoders.text.embed_queries(texts))
        vectors: dict[str, np.ndarray] = {
            m: text_vector for m in self.modalities if m in TEXT_MODALITIES
        }
        if "visual" in self.modalities:
            vectors["visual"] = _mean(self.encoders.visual.embed_queries(texts))
        vectors["fused"] = text_vector
        return vectors

    def _fuse(
        self, ranked: dict[str, list[tuple[int, float]]], query_vectors: dict[str, np.ndarray]
    ) -> dict[int, dict[str, float]]:
        weights = self.config.weights
        if self.config.fusion == "rrf":
            return fusion.reciprocal_rank(ranked, weights)
        return fusion.weighted(self._evidence(ranked, query_vectors), weights)

    def _evidence(
        self, ranked: dict[str, list[tuple[int, float]]], query_vectors: dict[str, np.ndarray]
    ) -> dict[str, dict[int, float]]:
        """Per modality, each candidate's standardised score: what the weights multiply."""
        evidence = {
            m: fusion.standardise(ranked[m], self._reference(m) @ vector)
            for m, vector in query_vectors.items()
            if ranked[m]
        }
        evidence["keyword"] = fusion.keyword_evidence(ranked.get("keyword", []))
        return evidence

    def modality_scores(
        self, query: str, segment_ids: Sequence[int], english: str | None = None
    ) -> dict[int, dict[str, float]]:
        """The per-modality evidence a text search finds for given segments, independent of
        the weights: what a mark records, and what a learned fusion is fitted on. Exact
        similarities, so a segment outside a modality's candidate list still gets its score.
        ``english``: the query's translation, searched with it as in ``search``."""
        text = _validate(query)
        vectors = self._embed(text, english)
        wanted = set(segment_ids)
        stored = {i: self.index.segment_vectors(i) for i in wanted}
        ranked = {
            m: [(i, float(stored[i][m] @ v)) for i in wanted if m in stored[i]]
            for m, v in vectors.items()
        }
        fields = self._keyword_fields()
        words = _both(text, english)
        keyword = self.index.keyword(words, self.config.candidates, SegmentFilter(), fields)
        ranked["keyword"] = [(i, s) for i, s in keyword if i in wanted]
        evidence = self._evidence(ranked, vectors)
        return {
            i: {m: round(scores[i], 4) for m, scores in evidence.items() if i in scores}
            for i in segment_ids
        }

    def _reference(self, modality: str) -> np.ndarray:
        """Stored vectors, topped up with the background vocabulary while the library is
        too small for its own score distribution to be a stable reference. Fused vectors
        are averages, which sit closer to every query than single phrases do, so only
        their own kind is a fair reference for them (against the vocabulary every segment
        of a small library looked relevant, and alerts fired on noise)."""
        stored = self.index.reference_vectors(modality)
        background = self.encoders.background
        if (
            len(stored) >= MIN_REFERENCE
            or modality == "fused"
            or background.shape[1] != stored.shape[1]
        ):
            return stored
        return np.vstack([stored, background])


ROCCHIO_BETA = 0.75  # weight of the marked-relevant centroid (Rocchio's classic values)
ROCCHIO_GAMMA = 0.25  # weight of the marked-irrelevant centroid


def rocchio(
    query: dict[str, np.ndarray],
    relevant: list[dict[str, np.ndarray]],
    irrelevant: list[dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Move each modality's query vector toward the marked-relevant segments and away from
    the marked-irrelevant ones. A modality the query had no vector for (the image feature)
    joins when relevant examples carry it, so "more like this" also means "looks like this".
    Scale does not matter: each modality is standardised per query before fusion."""
    refined = {}
    modalities = set(query) | {m for example in relevant for m in example}
    for modality in modalities:
        pos = [e[modality] for e in relevant if modality in e]
        neg = [e[modality] for e in irrelevant if modality in e]
        if modality not in query and not pos:
            continue
        vector = query.get(modality, 0.0) + (ROCCHIO_BETA * np.mean(pos, axis=0) if pos else 0.0)
        if neg:
            vector = vector - ROCCHIO_GAMMA * np.mean(neg, axis=0)
        refined[modality] = np.asarray(vector, np.float32)
    return refined


def _both(text: str, english: str | None) -> str:
    """The words BM25 matches: the query's and, if it was translated, its English's."""
    return f"{text} {english}" if english else text


def _mean(vectors: np.ndarray) -> np.ndarray:
    """One query vector from the rows of ``vectors`` (one row: itself, untouched)."""
    return vectors[0] if len(vectors) == 1 else unit(unit(vectors).mean(axis=0))


def _validate(query: str) -> str:
    text = " ".join(query.split())
    if not text:
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    return text


def _matched_words(query: str, segment: StoredSegment) -> list[str]:
    """Query words that occur in the segment's texts or labels."""
    present = _evidence_words(segment)
    return [w for w in _content_words(query) if w in present]


def _evidence_words(segment: StoredSegment) -> set[str]:
    """The words of the segment's texts and labels (accents ignored)."""
    haystack = _fold(
        " ".join(
            [*(o.text for items in segment.observations.values() for o in items)]
            + [label_text(segment.labels)]
        )
    )
    return set(re.findall(r"\w+", haystack))


def _nameable_subject(english: str, labels: bool, sound: bool) -> str | None:
    """The query's first content word, when a classifier of the library can put it on
    a moment: the thing the query is about ("snake" in "a snake in the grass"), which a
    moment answering it should be labelled, tagged or said to be. People words are left
    to the people reader, which says "a person" of any man, woman or child."""
    content = _content_words(english)
    if not content or content[0] in PEOPLE_WORDS:
        return None
    return content[0] if content[0] in _nameable(labels, sound) else None


@cache
def _nameable(labels: bool, sound: bool) -> frozenset[str]:
    """Words the classifiers name things with: the head (last word) of every ImageNet
    class's name, synonyms, broader and narrower terms ("snake" of "green snake"), and
    every word of the AudioSet classes the sound tagger reports."""
    words: set[str] = set()
    if labels:
        words |= {re.findall(r"\w+", _fold(term))[-1] for term in class_terms()}
    if sound:
        words |= set(re.findall(r"\w+", _fold(" ".join(reported_classes()))))
    return frozenset(words)


# Words of a query about people or motion, English and Spanish, accents folded as
# ``_content_words`` folds them (what makes people/motion descriptions worth showing).
_PEOPLE_WORDS = """
    person persons people man men woman women someone somebody anyone anybody nobody
    crowd pedestrian pedestrians child children kid kids guy boy girl walker
    walk walks walking run runs running loiter loiters loitering lingering stand stands
    standing stop stops stopped still move moves moving motion movement empty enter
    enters entering leave leaves leaving together alone group couple
    persona personas gente hombre hombres mujer mujeres alguien nadie multitud peaton
    peatones nino ninos nina chico chica pareja grupo camina caminando caminar corre
    corriendo correr merodea merodeando quieto quieta parado parada detenido mueve
    moviendo movimiento vacio vacia entra entrando sale saliendo juntos juntas solo sola
"""
PEOPLE_WORDS = frozenset(_PEOPLE_WORDS.split())

# Words and phrases by which a query asks what was said or written (folded like
# ``_content_words``). "talking" alone is not one: "a man talking in a car" is a picture;
# nor "on screen": "a dog on screen" is one too.
_SAID_WORDS = """
    say says saying said speaker narrator voice announcement announces announcer mention
    mentions mentioned explains tells sign caption captions title written text reads
    reading subtitle subtitles
    dice dicen diciendo narrador voz anuncio anuncia explica menciona letrero rotulo
    titulo texto escrito cartel subtitulo subtitulos
"""
SAID_WORDS = frozenset(_SAID_WORDS.split())
SAID_PHRASES = re.compile(r"\b(talks?|talking) about\b|\bhabla(n|ndo)? de")


def asks_what_is_said(query: str) -> bool:
    """Whether the query asks for speech or on-screen text ("the narrator says…",
    "un letrero que dice…", "they talk about…"), English or Spanish."""
    return _mentions(query, SAID_WORDS, SAID_PHRASES)


def _mentions(query: str, words: frozenset[str], phrases: re.Pattern[str]) -> bool:
    """Whether the query has one of ``words`` or matches ``phrases`` (accents folded)."""
    return not words.isdisjoint(_content_words(query)) or bool(phrases.search(_fold(query)))


_NOTHING_WORDS = """
    empty nobody noone nothing deserted vacant quiet still stillness static motionless idle
    calm unoccupied vacio vacia vacios vacias desierto desierta nadie nada quieto quieta
    inmovil tranquilo tranquila desocupado desocupada
"""
NOTHING_WORDS = frozenset(_NOTHING_WORDS.split())
NOTHING_PHRASES = re.compile(
    r"\bno (?:one|people|person|motion|movement)\b|\bsin (?:gente|nadie|personas|movimiento)\b"
)


def asks_for_nothing(query: str) -> bool:
    """Whether a query asks for emptiness or stillness (English or Spanish): only then
    is "nobody there" or "nothing moving" evidence."""
    return _mentions(query, NOTHING_WORDS, NOTHING_PHRASES)


def _says_nothing(text: str) -> bool:
    """An observation saying that nobody is there or nothing moves."""
    return text.startswith((NOBODY, STILL))


def _without_nothing(
    scored: list[tuple[int, float, dict[str, float]]], stored: dict[int, StoredSegment]
) -> list[tuple[int, float, dict[str, float]]]:
    """The people evidence of segments whose people descriptions only say that nothing
    happens, taken out of their scores (re-ranked): a query that does not ask for
    emptiness is not answered by "nobody there"."""
    out = []
    for segment_id, score, contributions in scored:
        segment = stored.get(segment_id)
        said = segment.observations.get("people", []) if segment else []
        if "people" in contributions and said and all(_says_nothing(o.text) for o in said):
            contributions = {m: c for m, c in contributions.items() if m != "people"}
            score = sum(contributions.values())
        out.append((segment_id, score, contributions))
    return sorted(out, key=lambda item: item[1], reverse=True)


def _supported(
    scored: list[tuple[int, float, dict[str, float]]],
    stored: dict[int, StoredSegment],
    share: float,
    gap: float,
) -> list[tuple[int, float, dict[str, float]]]:
    """Each segment's score plus ``share`` of its best-scoring touching neighbour's
    (among the candidates), as a "neighbours" contribution, re-ranked: what was said or
    seen just before or after supports a match."""
    by_video: dict[str, list[tuple[StoredSegment, float]]] = {}
    for segment_id, score, _ in scored:
        if segment_id in stored:
            by_video.setdefault(stored[segment_id].video, []).append((stored[segment_id], score))
    out = []
    for segment_id, score, contributions in scored:
        segment = stored.get(segment_id)
        near = (
            [
                other_score
                for other, other_score in by_video[segment.video]
                if 0 <= other.start - segment.end <= gap or 0 <= segment.start - other.end <= gap
            ]
            if segment is not None
            else []
        )
        if near and max(near) > 0:
            support = share * max(near)
            contributions = {**contributions, "neighbours": support}
            score += support
        out.append((segment_id, score, contributions))
    return sorted(out, key=lambda item: item[1], reverse=True)


def about_people(query: str) -> bool:
    """Whether a query is about people or motion (English or Spanish)."""
    return not PEOPLE_WORDS.isdisjoint(_content_words(query))


def _content_words(query: str) -> list[str]:
    """The query's distinct words that say something (accents ignored), in order."""
    words = dict.fromkeys(re.findall(r"\w+", _fold(query)))
    return [w for w in words if w not in STOPWORDS]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _explain(moment: Moment, ranked: dict[str, list[tuple[int, float]]], query: str) -> None:
    """Per-modality evidence from the moment's best segment. When the strongest evidence
    is timed text (speech, on-screen text, a sound), the moment is tightened to the
    observations that carry it rather than whole segments. People and motion descriptions
    are shown only to a query about people or motion: every segment has one ("no people
    in the scene, nobody there"), and on a query about a sign or a sentence it explains
    nothing; those saying that nothing happens, only to a query about emptiness."""
    best: StoredSegment = moment.segments[0]
    raw = {m: dict(scores) for m, scores in ranked.items()}
    evidence: dict[str, Any] = {}
    nothing = asks_for_nothing(query)
    people = nothing or about_people(query)
    for modality, contribution in sorted(moment.contributions.items(), key=lambda x: -x[1]):
        if modality == "people" and not people:
            continue
        entry: dict[str, Any] = {"contribution": round(contribution, 3)}
        if best.id in raw.get(modality, {}):
            key = "bm25" if modality == "keyword" else "similarity"
            entry[key] = round(raw[modality][best.id], 4)
        if modality == "visual" and best.labels:
            entry["labels"] = [[name, round(p, 3)] for name, p in best.labels[:3]]
        if modality == "keyword":
            entry["matched"] = _matched_words(query, best)
        said = best.observations.get(modality, [])
        if modality == "people" and not nothing:
            said = [o for o in said if not _says_nothing(o.text)]
        if said:
            entry["text"] = observation_text(said)[:300]
            if languages := observation_languages(said):
                entry["languages"] = languages
        evidence[modality] = entry
    moment.evidence = evidence
    # The fused vector mixes every modality, so it cannot say which evidence to trust.
    specific = {m: c for m, c in moment.contributions.items() if m != "fused"}
    strongest = max(specific, key=specific.__getitem__, default=None)
    if strongest in TIGHT_MODALITIES:
        spans = [o for s in moment.segments for o in s.observations.get(strongest, [])]
        if spans:
            moment.start = max(moment.start, min(o.start for o in spans))
            moment.end = min(moment.end, max(o.end for o in spans))

"""Drift: is what is being indexed now unlike what the index started with?

Per modality, the reference window is the first ``drift_reference_segments`` segments
ever stored (what the operator saw working), and the recent window the last
``drift_recent_segments`` after it (optionally only those stored in the last
``drift_recent_hours``). Per modality:

- ``cosine_shift`` = 1 − cos(mean reference vector, mean recent vector): what a window
  is "about" moved. Reported, not thresholded: e5 text-space vectors all sit in a narrow
  cone, so their means stay within ~0.03 of each other whatever the footage, while the
  image space spreads wider; one threshold cannot fit both.
- ``centroid_shift`` = ‖mean recent − mean reference‖ / RMS distance of reference
  vectors to their mean: the same move in units of the reference's own spread, so one
  threshold fits every modality. Sampling noise alone gives about √(1/recent +
  1/reference) (0.23 for 20 against 500 segments); new content 1 or more.
- ``label_divergence``: Jensen–Shannon divergence (base 2, 0..1) between the label
  distributions of the two windows: visual class names weighted by their probability,
  sound events by their score. Readable where vectors are not ("cat" → "car").

Over a threshold in ``MonitorConfig`` a modality is reported as drifting and a warning
is logged, as long as both windows hold at least ``drift_min_segments`` segments with
that modality (a handful of segments says nothing).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from sceneseek.config import IndexConfig, MonitorConfig
from sceneseek.index.catalogue import Catalogue, batches
from sceneseek.index.store import reading
from sceneseek.index.vectors.base import VectorReader

log = logging.getLogger(__name__)


@dataclass
class ModalityDrift:
    reference: int  # segments with this modality in each window
    recent: int
    cosine_shift: float | None
    centroid_shift: float | None
    label_divergence: float | None = None
    drifting: bool = False


@dataclass
class DriftReport:
    reference_segments: int
    recent_segments: int
    modalities: dict[str, ModalityDrift] = field(default_factory=dict)

    @property
    def drifting(self) -> list[str]:
        return [m for m, d in self.modalities.items() if d.drifting]

    def to_dict(self) -> dict[str, object]:
        return {
            "reference_segments": self.reference_segments,
            "recent_segments": self.recent_segments,
            "modalities": {m: asdict(d) for m, d in self.modalities.items()},
            "drifting": self.drifting,
        }


def measure_drift(
    db: Path,
    config: MonitorConfig,
    now: datetime | None = None,
    settings: IndexConfig | None = None,
) -> DriftReport:
    """Compare the recent window of ``db`` with its reference window (see module doc);
    ``settings``: how to reach the vector store (a Milvus token, say)."""
    window = config.drift_recent_segments
    with reading(db, settings) as index:
        catalogue = index.catalogue
        reference = catalogue.first_segment_ids(config.drift_reference_segments)
        last_reference = reference[-1] if reference else 0
        if config.drift_recent_hours is None:
            recent = catalogue.latest_segment_ids(last_reference, window)
        else:
            since = (now or datetime.now().astimezone()) - timedelta(
                hours=config.drift_recent_hours
            )
            videos = catalogue.videos_stored_since(since)  # newest first; ids grow with time
            first = videos[-1] if videos else 2**62
            recent = catalogue.latest_segment_ids(last_reference, window, first)
        report = DriftReport(len(reference), len(recent))
        if not recent:
            return report
        ref_means, ref_spread, ref_counts = _mean_vectors(index.vectors, reference)
        new_means, _, new_counts = _mean_vectors(index.vectors, recent)
        ref_labels, new_labels = _labels(catalogue, reference), _labels(catalogue, recent)
    for modality in sorted(set(ref_means) | set(new_means)):
        shift = centroid = None
        if modality in ref_means and modality in new_means:
            a, b = ref_means[modality], new_means[modality]
            denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
            shift = round(1.0 - float(a @ b) / denominator, 4) if denominator > 0 else None
            if ref_spread[modality] > 1e-6:  # one distinct vector has no spread to compare to
                centroid = round(float(np.linalg.norm(b - a)) / ref_spread[modality], 4)
        drift = ModalityDrift(
            ref_counts.get(modality, 0), new_counts.get(modality, 0), shift, centroid
        )
        if ref_labels.get(modality) and new_labels.get(modality):
            drift.label_divergence = round(
                js_divergence(ref_labels[modality], new_labels[modality]), 4
            )
        enough = min(drift.reference, drift.recent) >= config.drift_min_segments
        drift.drifting = enough and (
            (centroid is not None and centroid > config.drift_centroid_warn)
            or (
                drift.label_divergence is not None
                and drift.label_divergence > config.drift_labels_warn
            )
        )
        report.modalities[modality] = drift
    return report


def warn_if_drifting(report: DriftReport, db: Path) -> None:
    """One warning per drifting modality, with the numbers as log fields."""
    for modality in report.drifting:
        drift = report.modalities[modality]
        log.warning(
            "%s: %s drift: centroid shift %s, label divergence %s"
            " (recent %d vs reference %d segments)",
            db,
            modality,
            drift.centroid_shift,
            drift.label_divergence,
            drift.recent,
            drift.reference,
            extra={"db": str(db), "modality": modality, **asdict(drift)},
        )


def _mean_vectors(
    vectors: VectorReader, ids: list[int]
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, int]]:
    """Per modality: mean vector, RMS distance to it, and how many vectors."""
    sums: dict[str, np.ndarray] = {}
    squares: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _, modality, stored in vectors.fetch(ids):
        assert stored is not None
        vector = stored.astype(np.float64)
        sums[modality] = sums[modality] + vector if modality in sums else vector
        squares[modality] = squares.get(modality, 0.0) + float(vector @ vector)
        counts[modality] = counts.get(modality, 0) + 1
    means = {m: s / counts[m] for m, s in sums.items()}
    # E‖x − m‖² = E‖x‖² − ‖m‖²
    spread = {
        m: float(np.sqrt(max(0.0, squares[m] / counts[m] - float(means[m] @ means[m]))))
        for m in means
    }
    return means, spread, counts


def _labels(catalogue: Catalogue, ids: list[int]) -> dict[str, dict[str, float]]:
    """Label weights per modality: visual class names and sound event names."""
    found: dict[str, dict[str, float]] = {"visual": {}, "sound": {}}
    for batch in batches(ids):
        for segment in catalogue.segments(batch).values():
            for name, p in segment.labels:
                found["visual"][name] = found["visual"].get(name, 0.0) + float(p)
            for event in segment.observations.get("sound", []):
                found["sound"][event.text] = found["sound"].get(event.text, 0.0) + event.score
    return found


def js_divergence(p: dict[str, float], q: dict[str, float]) -> float:
    """Jensen–Shannon divergence in bits between two weighted label sets (0 = same
    distribution, 1 = no label in common)."""
    names = sorted(set(p) | set(q))
    a = np.array([p.get(n, 0.0) for n in names])
    b = np.array([q.get(n, 0.0) for n in names])
    a, b = a / a.sum(), b / b.sum()
    middle = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        nonzero = x > 0
        return float(np.sum(x[nonzero] * np.log2(x[nonzero] / middle[nonzero])))

    return max(0.0, min(1.0, (kl(a) + kl(b)) / 2))

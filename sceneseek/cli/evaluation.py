"""Scoring search on a benchmark."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import JsonOption, ModalitiesOption, config_for, fail, out


def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="benchmark directory")],
    db: Annotated[
        Path | None, typer.Option("--db", help="index directory (default: DATASET/index)")
    ] = None,
    json_output: JsonOption = False,
    baseline: Annotated[str, typer.Option(help="keyword | none")] = "keyword",
    videos: Annotated[
        int | None, typer.Option(help="only the first N videos and their queries")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(help="tune | test: only that half's videos (use one --db per half)"),
    ] = None,
    modalities: ModalitiesOption = None,
) -> None:
    """Score search on a benchmark: mAP@10, R@1/5/10, MRR, latency, vs a keyword baseline,
    and how often the relevance cut-off rejects absent-answer queries."""
    from sceneseek.errors import SceneseekError
    from sceneseek.eval.benchmark import evaluate as run_benchmark
    from sceneseek.eval.runner import render_table

    try:
        reports = run_benchmark(
            dataset, db or dataset / "index", config_for(modalities), baseline, videos, split
        )
    except (SceneseekError, ValueError, RuntimeError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if json_output:
        sys.stdout.write(json.dumps({r.system: r.to_dict() for r in reports}) + "\n")
        return
    out.print(render_table(reports))

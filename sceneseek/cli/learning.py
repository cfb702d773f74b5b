"""Marks, learned fusion and the results worth marking next."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from sceneseek.cli.common import (
    DbOption,
    JsonOption,
    ModalitiesOption,
    clock,
    config_for,
    fail,
    opened,
    out,
)
from sceneseek.records import to_json


def mark(
    query: Annotated[str, typer.Argument(help="the query the result was found for")],
    segment_id: Annotated[int, typer.Argument(help="segment id (search --json, uncertain)")],
    db: DbOption,
    relevant: Annotated[bool, typer.Option("--relevant/--not-relevant", help="the verdict")] = True,
    modalities: ModalitiesOption = None,
) -> None:
    """Record whether a result is relevant to a query (training data for `learn`)."""
    with opened(db, config_for(modalities)) as library:
        try:
            stored = library.mark(query, segment_id, relevant)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
    verdict = "relevant" if relevant else "not relevant"
    out.print(f"mark {stored.id}: segment {segment_id} {verdict} to {query!r}", highlight=False)


def learn(
    db: DbOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="cross-validate only; record nothing")
    ] = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Fit the fusion weights on the marks; adopt them only if they rank held-out queries'
    marks better than the fusion in use (cross-validated, folds grouped by query)."""
    from rich.table import Table

    with opened(db, config_for(modalities)) as library:
        report = library.learn(dry_run)
    out.print(
        f"{report.marks} marks, {report.queries} queries with both verdicts; "
        f"current fusion {report.current}",
        highlight=False,
    )
    if report.folds:
        table = Table("fold", "queries", "current AP", "candidate AP", title_justify="left")
        for n, fold in enumerate(report.per_fold, 1):
            table.add_row(
                str(n),
                str(fold["queries"]),
                f"{fold['current_ap']:.3f}",
                f"{fold['candidate_ap']:.3f}",
            )
        out.print(table)
        weights = ", ".join(f"{m} {w:.4g}" for m, w in report.candidate.items())
        out.print(f"candidate weights: {weights}", highlight=False)
    out.print(report.reason, highlight=False)
    if report.version:
        state = "adopted" if report.adopted else "recorded, not adopted"
        out.print(f"fusion {report.version} {state}", highlight=False)


def uncertain(
    db: DbOption,
    limit: Annotated[int, typer.Option(help="how many to list")] = 20,
    json_output: JsonOption = False,
    modalities: ModalitiesOption = None,
) -> None:
    """Unmarked results of stored queries (marks', alerts') nearest the decision boundary:
    the ones whose verdict would teach `learn` the most. Mark them with `sceneseek mark`."""
    from rich.table import Table

    with opened(db, config_for(modalities)) as library:
        found = library.uncertain(limit)
    if json_output:
        sys.stdout.write(json.dumps({"uncertain": [to_json(u) for u in found]}) + "\n")
        return
    table = Table(
        "query", "segment", "video", "start–end", "score", "p(relevant)", title_justify="left"
    )
    for u in found:
        table.add_row(
            u.query,
            str(u.segment_id),
            Path(u.video).name,
            f"{clock(u.start)}–{clock(u.end)}",
            f"{u.score:.2f}",
            f"{u.p_relevant:.2f}",
        )
    out.print(table)

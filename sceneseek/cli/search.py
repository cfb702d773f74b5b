"""Searching: in this process, or through a `serve` running on the same index
(sceneseek.local_server), which prints the same."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from sceneseek.cli.common import (
    CameraOption,
    DbOption,
    JsonOption,
    ModalitiesOption,
    TimeOfDayOption,
    ZoneOption,
    clock,
    config_for,
    fail,
    opened,
    out,
)
from sceneseek.local_server import ask_server, read_announcement, search_request


def search(
    db: DbOption,
    query: Annotated[
        str | None, typer.Argument(help="what you are looking for, in your words")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="number of moments")] = 10,
    json_output: JsonOption = False,
    camera: CameraOption = None,
    zone: ZoneOption = None,
    time_of_day: TimeOfDayOption = None,
    modalities: ModalitiesOption = None,
    image: Annotated[
        Path | None, typer.Option(help="search by an example picture instead of words")
    ] = None,
    after: Annotated[str | None, typer.Option(help="only from this ISO date/time on")] = None,
    before: Annotated[str | None, typer.Option(help="only before this ISO date/time")] = None,
    weekdays: Annotated[str | None, typer.Option(help="e.g. mon-fri or sat,sun")] = None,
    video: Annotated[Path | None, typer.Option(help="only this indexed file")] = None,
    parse: Annotated[
        bool, typer.Option(help="read filters stated in the query, e.g. 'at night'")
    ] = True,
    more_like: Annotated[
        list[int] | None,
        typer.Option("--more-like", help="segment id marked relevant in an earlier round"),
    ] = None,
    not_like: Annotated[
        list[int] | None, typer.Option("--not", help="segment id marked not relevant")
    ] = None,
    translate: Annotated[
        bool, typer.Option(help="also search a non-English query in English translation")
    ] = True,
    event_zone: Annotated[
        str | None, typer.Option(help="only people events in this camera zone")
    ] = None,
    min_dwell: Annotated[
        float | None, typer.Option(help="only people events lasting at least this (seconds)")
    ] = None,
    min_count: Annotated[
        int | None, typer.Option(help="only people events of at least this many people")
    ] = None,
) -> None:
    """Find moments by meaning across what was seen, said, read and heard."""
    config = config_for(modalities)
    arguments: dict[str, Any] = {
        "query": query,
        "top_k": top_k,
        "camera": camera,
        "zone": zone,
        "time_of_day": time_of_day,
        "after": after,
        "before": before,
        "weekdays": weekdays,
        "parse": parse,
        "more_like": more_like or [],
        "not_like": not_like or [],
        "translate": translate,
        "event_zone": event_zone,
        "min_dwell": min_dwell,
        "min_count": min_count,
    }
    response = _served(db, config.fingerprint(), image, video, arguments)
    if response is None:
        with opened(db, config) as library:
            try:
                picture = image.read_bytes() if image else None
                found = library.search(image=picture, video=_indexed_path(video), **arguments)
            except OSError as exc:
                raise fail(f"{image}: {exc.strerror or exc}") from None
            except KeyError as exc:
                raise fail(str(exc.args[0])) from None
        response = found.to_dict()
    if json_output:
        sys.stdout.write(json.dumps(response, ensure_ascii=False) + "\n")
        return
    print_results(response)


def _indexed_path(video: Path | None) -> str | None:
    """``--video`` as the index records it."""
    return str(video.expanduser().resolve()) if video else None


def _served(
    db: Path, fingerprint: str, image: Path | None, video: Path | None, arguments: dict[str, Any]
) -> dict[str, Any] | None:
    """The answer of a `serve` running on ``db`` with the same settings, if there is one
    and it answers; None otherwise, and for anything the in-process search reports as an
    error (an unreadable picture among them), so the error reads the same."""
    announcement = read_announcement(db)
    if announcement is None:
        return None
    try:
        picture = image.read_bytes() if image else None
    except OSError:
        return None
    body = search_request(db, fingerprint, picture, {**arguments, "video": _indexed_path(video)})
    return ask_server(announcement, body)


def print_results(response: dict[str, object]) -> None:
    from rich.table import Table

    results = response["results"]
    assert isinstance(results, list)
    chips = [c["label"] for c in response["filters"]["from_query"]]  # type: ignore[index]
    stated = f" [filters from your words: {', '.join(chips)}]" if chips else ""
    translation = cast(dict[str, str | None] | None, response.get("translation"))
    if translation:
        said = translation["text"] or translation["note"]
        stated += f" [{translation['from']}: {said}]"
    strong = sum(not r.get("below_cutoff") for r in results)
    above = f" ({strong} above the relevance cut-off)" if response.get("cutoff") else ""
    table = Table(
        title=f"{response['query']!r} — {len(results)} moments{above}"
        f" in {response['took_ms']:.0f} ms{stated}",
        title_justify="left",
    )
    for column in ("#", "video", "start–end", "score", "why"):
        table.add_column(column, overflow="fold")
    separated = False
    # A moment passes the cut-off on its own evidence, so a good match may rank under a
    # weak one: the good ones come first, each with its rank.
    ranked = sorted(enumerate(results, 1), key=lambda item: bool(item[1].get("below_cutoff")))
    for rank, result in ranked:
        if result.get("below_cutoff") and not separated:
            table.add_row("", "— weaker matches below the cut-off —", "", "", "", style="dim")
            separated = True
        table.add_row(
            str(rank),
            Path(result["video"]).name,
            f"{clock(result['start'])}–{clock(result['end'])}",
            f"{result['score']:.2f}",
            explain(result["evidence"]),
        )
    out.print(table)


def explain(evidence: dict[str, dict[str, Any]]) -> str:
    """The evidence that carried the match: modalities within a quarter of the strongest
    (the JSON output keeps all of them). The fused vector has nothing to show by itself."""
    strongest = max((e.get("contribution", 0.0) for e in evidence.values()), default=0.0)
    parts = []
    for modality, entry in evidence.items():
        if modality == "fused" or entry.get("contribution", 0.0) < 0.25 * strongest:
            continue
        if modality == "visual" and entry.get("labels"):
            labels = entry["labels"]
            assert isinstance(labels, list)
            parts.append("visual: " + ", ".join(f"{n} {p:.2f}" for n, p in labels))
        elif "text" in entry:
            said_in = f" ({', '.join(entry['languages'])})" if entry.get("languages") else ""
            parts.append(f'{modality}{said_in}: "{str(entry["text"])[:80]}"')
        elif entry.get("matched"):
            parts.append(f"{modality}: {', '.join(entry['matched'])}")
        else:
            parts.append(modality)
    if not parts and "fused" in evidence:
        parts.append("overall resemblance (fused vector)")
    return "; ".join(parts)

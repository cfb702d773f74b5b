"""Operators' marks: whether a result was relevant to a query (training data for `learn`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from sceneseek.api.deps import LibraryDep, ReadLock, not_found
from sceneseek.api.schemas import BAD_QUERY, NOT_FOUND, FeedbackIn, MarkOut
from sceneseek.records import to_json

router = APIRouter(tags=["feedback"])


@router.post(
    "/api/feedback",
    response_model=MarkOut,
    status_code=201,
    responses={**NOT_FOUND, **BAD_QUERY},
)
def feedback(body: FeedbackIn, library: LibraryDep, lock: ReadLock) -> dict[str, Any]:
    """Record that a result was (not) relevant to a query."""
    query = " ".join(body.query.split())
    if not query:
        raise HTTPException(400, "the query is empty")
    with lock:
        try:
            library.segment(body.segment_id)
        except KeyError:
            raise not_found("segment", body.segment_id) from None
        mark = library.mark(query, body.segment_id, body.relevant)
    return to_json(mark)


@router.get("/api/feedback", response_model=list[MarkOut])
def feedback_list(library: LibraryDep, lock: ReadLock) -> list[dict[str, Any]]:
    with lock:
        marks = library.marks()
    return [to_json(m) for m in marks]

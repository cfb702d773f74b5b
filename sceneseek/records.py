"""One way to turn a record into JSON, for every place that prints or serves one (the
CLI's ``--json``, the HTTP API, webhook payloads): a record's fields in their declared
order, datetimes in ISO 8601, tuples as lists, nested records, lists and dicts likewise.

Stdlib only: the CLI imports it on its light start-up path. A search response is not a
record but a view (rounded scores, renamed fields): ``SearchResponse.to_dict`` is its
JSON, the same for ``sceneseek search --json`` and ``/api/search``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any


def to_json(value: Any) -> Any:
    """``value`` made of JSON types only (``json.dumps`` takes it as it is)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value

"""Row lookups of the index tables that build :mod:`hipporag.types` objects.

Example:
    >>> _span(None, None) is None and _span(1, 4) == (1, 4)
    True
"""

from __future__ import annotations

import json
from typing import Any

from hipporag.index.integrity import check_open
from hipporag.index.passagestore import StoredPassages, load_store
from hipporag.index.sqlview import SQLView
from hipporag.types import Passage

_STORE = "_passage_store"


def _span(start: int | None, end: int | None) -> tuple[int, int] | None:
    return None if start is None or end is None else (int(start), int(end))


def _meta(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def passage_store(index: SQLView) -> StoredPassages | None:
    """The index's :class:`~hipporag.index.passagestore.StoredPassages` (loaded once), or None."""
    cache = getattr(index, "__dict__", None)
    if cache is None:  # an object without a __dict__: nothing to keep it in
        return load_store(index)
    if _STORE not in cache:
        cache[_STORE] = load_store(index)
    return cache[_STORE]


def passage_rows(index: SQLView, idxs: list[int]) -> list[Passage]:
    """Passages by ``passage_idx`` in the order given; unknown (or deleted) rows raise.

    Read from the passage store where the index has one (a few slices per
    call), else from the ``passages`` table (a scan per call).
    """
    if not idxs:
        return []
    check_open(index)
    store = passage_store(index)
    return store.get(idxs) if store is not None else table_passage_rows(index, idxs)


def table_passage_rows(index: SQLView, idxs: list[int]) -> list[Passage]:
    """:func:`passage_rows` read from the ``passages`` table (the reference)."""
    if not idxs:
        return []
    if index.format_version == 1:
        cols = "passage_idx, passage_id, title, text, '' , NULL, 0, NULL, NULL"
    else:
        cols = (
            "passage_idx, passage_id, title, text, doc_id, CAST(metadata AS VARCHAR), chunk, "
            "span_start, span_end"
        )
    rows = (
        index.connection()
        .execute(
            f"SELECT {cols} FROM passages WHERE passage_idx IN (SELECT unnest($1::INTEGER[]))",
            [idxs],
        )
        .fetchall()
    )
    by_idx = {
        r[0]: Passage(r[1], r[2], r[3], r[4], _meta(r[5]), int(r[6] or 0), _span(r[7], r[8]))
        for r in rows
    }
    missing = [i for i in idxs if i not in by_idx]
    if missing:
        raise KeyError(f"no live passage with passage_idx {missing[0]}")
    return [by_idx[i] for i in idxs]


__all__ = ["passage_rows", "passage_store", "table_passage_rows"]

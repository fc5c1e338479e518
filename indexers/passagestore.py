"""Writing the passage store of a generation: one new segment per change, O(change).

The new passages of a change are encoded into one new segment over the rows
after the kept parent segments; which parent segments are kept is decided by
the HNSW merge policy (:func:`hipporag.index.segments.plan_segments`). Merged
segments are rewritten from their own bytes (deleted rows left out), never
from the tables. A parent without a store (an index made before it existed)
gets one segment over all its live passages, read once from its tables.

Example:
    >>> from hipporag.index.passagestore import StoredPassages
    >>> from hipporag.types import Passage
    >>> seg = encode_segment({0: Passage.from_text("Pump", "The XK-4471 pump")}, 0, 1)
    >>> StoredPassages([seg], np.ones(1, bool)).get([0])[0].text
    'The XK-4471 pump'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.index import IndexWriter
from hipporag.index.passagestore import (
    FORMAT,
    SegmentRows,
    StoreSegment,
    encode_segment,
    file_names,
    load_segment,
    store_layout,
)
from hipporag.index.segments import Segment, plan_tail
from hipporag.types import Passage
from indexers.storage import with_old_rows


def _save(w: IndexWriter, seg: SegmentRows) -> StoreSegment:
    names = file_names(w.generation)
    for logical, arr in zip(names, (seg.offsets, seg.data), strict=True):
        w.write_array(logical.split("/")[1].split("@")[0], np.asarray(arr), logical=logical)
    return StoreSegment(seg.start, seg.stop, w.generation, *names)


def write_passage_store(
    w: IndexWriter,
    base: Any,
    live: np.ndarray,
    passages: Sequence[Passage],
    rows: np.ndarray,
    *,
    rewrite: bool = False,
) -> dict[str, Any]:
    """Write the passage store of ``w``'s generation; returns the manifest's ``passage_store``.

    Args:
        w: The writer of the new generation.
        base: The parent :class:`~hipporag.index.Index` (None: a build).
        live: The passage live mask after the change.
        passages: The passages the change adds, at ``rows``.
        rows: Their passage rows.
        rewrite: Write one segment over all live rows (a compaction).
    """
    n = int(live.shape[0])
    rows = np.asarray(rows, dtype=np.int64)
    parent = store_layout(base.meta) if base is not None else None
    entry: dict[str, Any] = {"format": FORMAT, "segments": []}
    if base is not None and (parent is None or rewrite):
        # no usable parent segments: store every live row (the old ones read from the parent)
        passages, rows = with_old_rows(base, live, passages, rows)
        parent = []
    parent = parent or []
    new: dict[int, Passage | bytes] = dict(zip(rows.tolist(), passages, strict=True))
    keep, start = plan_tail([Segment(s.data, s.start, s.stop, s.gen) for s in parent], live)
    for s in parent[:keep]:
        w.share(s.offsets)
        w.share(s.data)
    entry["segments"] = [s.to_dict() for s in parent[:keep]]
    if start < n:
        for old_seg in (load_segment(base, s) for s in parent[keep:]):
            for row in np.flatnonzero(live[old_seg.start : old_seg.stop]).tolist():
                new.setdefault(old_seg.start + row, old_seg.raw(old_seg.start + row))
        live_new = {r: v for r, v in new.items() if start <= r < n and live[r]}
        entry["segments"].append(_save(w, encode_segment(live_new, start, n)).to_dict())
    return entry


__all__ = ["write_passage_store"]

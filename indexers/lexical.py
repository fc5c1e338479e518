"""Writing the lexical (BM25) part of a generation: one new segment per change, O(change).

The new passages of a change are tokenised (:func:`hipporag.index.lexical.passage_tokens`)
into one new segment over the rows after the kept parent segments; which
parent segments are kept is decided by the HNSW merge policy
(:func:`hipporag.index.segments.plan_segments`: small trailing segments are
merged with the new rows, a trailing segment of which more than half the rows
died is rebuilt without them). Merged segments are rebuilt from their own
postings, never from the text. A parent without a lexical part (an index made
before it existed) gets one segment over all its live passages, read once
from its tables.

Example:
    >>> from hipporag.index.lexical import LexicalIndex
    >>> from hipporag.types import Passage
    >>> seg = new_segment([0], [Passage.from_text("Pump", "The XK-4471 pump")], 0, 1)
    >>> LexicalIndex([seg], np.ones(1, bool)).score_query("xk-4471")[0].tolist()
    [0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.index import IndexWriter
from hipporag.index.lexical import (
    TOKENIZER,
    LexSegment,
    SegmentArrays,
    build_segment,
    file_names,
    lexical_layout,
    load_segment,
    passage_tokens,
)
from hipporag.index.segments import Segment, plan_tail
from hipporag.types import Passage
from indexers.storage import with_old_rows


def new_segment(
    rows: Sequence[int],
    passages: Sequence[Passage],
    start: int,
    stop: int,
    carry: Sequence[SegmentArrays] = (),
    live: np.ndarray | None = None,
) -> SegmentArrays:
    """A segment over ``[start, stop)`` for new passages at ``rows`` plus merged ``carry``."""
    tokens = [passage_tokens(p.title, p.text) for p in passages]
    return build_segment(rows, tokens, start=start, stop=stop, carry=carry, live=live)


def _save(w: IndexWriter, seg: SegmentArrays) -> LexSegment:
    names = file_names(w.generation)
    for logical, arr in zip(names, (seg.terms, seg.postings, seg.doclen), strict=True):
        w.write_array(logical.split("/")[1].split("@")[0], np.asarray(arr), logical=logical)
    return LexSegment(seg.start, seg.stop, w.generation, *names)


def write_lexical(
    w: IndexWriter,
    base: Any,
    live: np.ndarray,
    passages: Sequence[Passage],
    rows: np.ndarray,
    *,
    rewrite: bool = False,
) -> dict[str, Any]:
    """Write the lexical part of ``w``'s generation; returns the manifest's ``lexical`` entry.

    Args:
        w: The writer of the new generation.
        base: The parent :class:`~hipporag.index.Index` (None: a build).
        live: The passage live mask after the change.
        passages: The passages the change adds, at ``rows``.
        rows: Their passage rows.
        rewrite: Write one segment over all live rows (a compaction).
    """
    n = int(live.shape[0])
    parent = lexical_layout(base.meta) if base is not None else None
    entry: dict[str, Any] = {"tokenizer": TOKENIZER, "stopwords": True, "segments": []}
    rows = np.asarray(rows, dtype=np.int64)
    if base is not None and (parent is None or rewrite):
        # no usable parent segments: index every live row (the old ones read from the tables)
        passages, rows = with_old_rows(base, live, passages, rows)
        parent = []
    parent = parent or []
    keep, start = plan_tail([Segment(s.terms, s.start, s.stop, s.gen) for s in parent], live)
    for s in parent[:keep]:
        for logical in (s.terms, s.postings, s.doclen):
            w.share(logical)
    entry["segments"] = [s.to_dict() for s in parent[:keep]]
    if start < n:
        carry = [load_segment(base, s) for s in parent[keep:]]
        order = np.argsort(rows, kind="stable")
        seg = new_segment(rows[order].tolist(), [passages[i] for i in order], start, n, carry, live)
        entry["segments"].append(_save(w, seg).to_dict())
    return entry


__all__ = ["new_segment", "write_lexical"]

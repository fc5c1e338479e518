"""HNSW indexes as immutable segments, one per range of rows, searched together.

As in Lucene, where each segment carries its own vector graph, a table's
vectors are indexed by one or more HNSW *segments*, each over the live rows of
a contiguous row range ``[start, stop)`` (labels are the global row numbers).
A change builds one segment for the rows it adds; the parent's segments are
shared, not rewritten. Deletions are not written into segment files: a reader
marks the dead rows of each segment deleted when it loads it (the ``live``
masks say which), so a deleted vector can never be returned.

The merge policy (:func:`plan_segments`) is the logarithmic method of
:mod:`hipporag.index.columns`: the new rows are merged with the last segments
while those are not more than four times larger, and a segment of which more
than half the rows died is rebuilt with them; so each vector is indexed
``O(log n)`` times over its life and a query searches ``O(log n)`` segments.

Example:
    >>> import numpy as np
    >>> from hipporag.index.hnsw import new_hnsw
    >>> vecs = np.eye(4, dtype=np.float32)
    >>> a, b = new_hnsw(4, 2, 8, 20), new_hnsw(4, 2, 8, 20)
    >>> a.add_items(vecs[:2], [0, 1]); b.add_items(vecs[2:], [2, 3])
    >>> s = SegmentedHNSW([a, b], live_counts=[2, 2])
    >>> labels, dist = s.knn_query(vecs[[3]], k=2)
    >>> int(labels[0, 0]), s.get_current_count()
    (3, 4)
    >>> plan_segments([Segment("x", 0, 1000, 1, 1000)], np.ones(1010, bool), new_rows=10)
    1
    >>> plan_tail([Segment("x", 0, 100, 1), Segment("y", 100, 102, 2)], np.ones(103, bool))
    (1, 100)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hipporag.index.columns import MERGE_RATIO


@dataclass(frozen=True, slots=True)
class Segment:
    """An HNSW file (a manifest key) over the rows ``start .. stop - 1`` of a table."""

    file: str
    start: int
    stop: int
    gen: int
    vectors: int = -1  # vectors the file holds (the live rows of its range when built)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segment_name(table: str, start: int, gen: int) -> str:
    """Logical file name of a segment (the one starting at row 0 keeps the plain name)."""
    return f"hnsw/{table}.bin" if start == 0 else f"hnsw/{table}@g{gen:06d}.bin"


def segment_layout(meta: dict[str, Any], table: str) -> list[Segment]:
    """The segments of ``table`` in a manifest (one file in older manifests; [] if none)."""
    entry = meta.get("segments", {}).get(table)
    if entry is not None:
        return [Segment(**s) for s in entry]
    logical = f"hnsw/{table}.bin"
    if meta.get("format_version") != 1 and logical not in meta.get("files", {}):
        return []
    rows = int(meta.get("counts", {}).get(table, 0))
    return [Segment(logical, 0, rows, int(meta.get("generation", 0)), rows)]


def plan_segments(segments: Sequence[Segment], live: np.ndarray, *, new_rows: int) -> int:
    """How many of the parent's segments a change keeps; the rest are rebuilt with the new rows.

    ``live`` is the table's live mask after the change (the new rows included).
    """
    keep = len(segments)
    tail = new_rows
    while keep > 0:
        seg = segments[keep - 1]
        alive = int(live[seg.start : seg.stop].sum())
        mostly_dead = alive * 2 < seg.stop - seg.start
        if (tail > 0 and seg.stop - seg.start <= MERGE_RATIO * tail) or mostly_dead:
            tail += seg.stop - seg.start
            keep -= 1
            continue
        break
    return keep


def plan_tail(segments: Sequence[Segment], live: np.ndarray) -> tuple[int, int]:
    """How many of the parent's ``segments`` a change keeps, and the first row it rewrites.

    ``live`` is the table's live mask after the change: the rows after the
    last segment are the new ones (see :func:`plan_segments`).
    """
    n_before = segments[-1].stop if segments else 0
    keep = plan_segments(segments, live, new_rows=int(live.shape[0]) - n_before)
    return keep, segments[keep].start if keep < len(segments) else n_before


def load_segments(index: Any, table: str) -> list[tuple[Segment, Any]]:
    """Load the segments of ``table`` of an open :class:`~hipporag.index.Index`.

    Each is checked against the manifest (vector count) and has the rows
    deleted since it was written marked deleted, so they are never returned.
    """
    import contextlib

    import hnswlib

    from hipporag.index.integrity import damaged

    meta = index.meta
    dim = int(meta["embedding"]["dim"])
    ef = int(meta["config"]["graph"].get("hnsw_ef_search", 64))
    live = index.live(table)
    out: list[tuple[Segment, Any]] = []
    for seg in segment_layout(meta, table):
        path = index.file(seg.file)
        if index.read_only and not path.is_file():
            return []
        h = hnswlib.Index(space="ip", dim=dim)
        try:
            h.load_index(str(path))
        except (RuntimeError, ValueError, MemoryError) as err:
            raise damaged(index.path, f"{path.name} cannot be loaded ({err})") from None
        want = seg.vectors if seg.vectors >= 0 else seg.stop - seg.start
        if h.get_current_count() != want:
            raise damaged(index.path, f"{path.name} holds {h.get_current_count()} vectors")
        h.set_ef(ef)
        for r in (np.flatnonzero(~live[seg.start : seg.stop]) + seg.start).tolist():
            with contextlib.suppress(RuntimeError):  # not in this segment, or already marked
                h.mark_deleted(r)
        out.append((seg, h))
    return out


class SegmentedHNSW:
    """Several hnswlib indexes searched as one: the best ``k`` over all segments.

    Offers the hnswlib calls the toolkit uses (``knn_query``, ``set_ef``,
    ``ef``, ``get_current_count``, ``mark_deleted``). ``k`` is capped, per
    segment, at its live rows; a segment that cannot answer raises hnswlib's
    ``RuntimeError``, which callers answer exactly instead.
    """

    def __init__(self, indexes: Sequence[Any], live_counts: Sequence[int]) -> None:
        self.indexes = list(indexes)
        self.live_counts = [int(n) for n in live_counts]

    @property
    def ef(self) -> int:
        return int(self.indexes[0].ef) if self.indexes else 0

    def set_ef(self, ef: int) -> None:
        for index in self.indexes:
            index.set_ef(ef)

    def get_current_count(self) -> int:
        return sum(self.live_counts)

    def mark_deleted(self, label: int) -> None:
        """Mark a row deleted in the segment that holds it (in memory only)."""
        for j, index in enumerate(self.indexes):
            try:
                index.mark_deleted(int(label))
            except RuntimeError:
                continue
            self.live_counts[j] -= 1
            return

    def knn_query(
        self,
        data: Any,
        k: int = 1,
        num_threads: int = 1,
        filter: Callable[[int], bool] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(data, dtype=np.float32))
        labels, dists = [], []
        for index, n in zip(self.indexes, self.live_counts, strict=True):
            kk = min(int(k), n)
            if kk <= 0:
                continue
            lab, dist = index.knn_query(q, k=kk, num_threads=num_threads, filter=filter)
            labels.append(lab.astype(np.int64))
            dists.append(dist)
        if not labels:
            return np.zeros((q.shape[0], 0), np.uint64), np.zeros((q.shape[0], 0), np.float32)
        lab, dist = np.hstack(labels), np.hstack(dists)
        kk = min(int(k), lab.shape[1])
        order = np.lexsort((lab, dist), axis=1)[:, :kk]
        return (
            np.take_along_axis(lab, order, axis=1).astype(np.uint64),
            np.take_along_axis(dist, order, axis=1),
        )


__all__ = [
    "Segment",
    "SegmentedHNSW",
    "load_segments",
    "plan_segments",
    "plan_tail",
    "segment_layout",
    "segment_name",
]

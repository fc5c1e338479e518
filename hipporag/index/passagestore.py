"""The passage store: each passage's fields as bytes in memory-mappable segments.

Retrieval returns a handful of passages per query, picked anywhere in the
corpus. DuckDB answers ``WHERE passage_idx IN (...)`` with a scan of the
``passages`` table (1.3 ms at 3x10^5 passages, growing with the corpus), so
the hits are read from here instead: a lookup costs a binary search and one
slice per hit, whatever the corpus size.

Like the lexical part (:mod:`hipporag.index.lexical`), the store is a list of
**segments**, each covering the passage rows ``[start, stop)`` with two arrays:

* ``offsets``: int64 ``[stop - start + 1]``, where row ``start + i`` begins and
  ends in ``data`` (equal offsets: no passage at that row);
* ``data``: uint8, each row's fields as one compact JSON array (UTF-8):
  ``[passage_id, title, text, doc_id, metadata, chunk, span_start, span_end]``.

A change writes one segment for the rows it adds, merged with small or
mostly-deleted trailing segments by the policy of the HNSW segments
(:func:`hipporag.index.segments.plan_segments`); a deleted row is only
dropped from the live mask, and left out when its segment is next merged.
The tables stay the reference: ``verify`` checks every live row against them.

Example:
    >>> from hipporag.types import Passage
    >>> seg = encode_segment({1: Passage.from_text("Pump", "The XK-4471 pump")}, 0, 2)
    >>> seg.offsets.tolist()
    [0, 0, 84]
    >>> store = StoredPassages([seg], np.array([False, True]))
    >>> [p.title for p in store.get([1])]
    ['Pump']
    >>> store.get([0])
    Traceback (most recent call last):
    ...
    KeyError: 'no live passage with passage_idx 0'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hipporag.types import Passage

FORMAT = "json-rows-v1"


@dataclass(frozen=True, slots=True)
class StoreSegment:
    """Manifest entry of a segment: its row range, generation and files (manifest keys)."""

    start: int
    stop: int
    gen: int
    offsets: str
    data: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_names(gen: int) -> tuple[str, str]:
    """Logical names of the two files of the segment written by generation ``gen``."""
    return (
        f"arrays/passage_store_offsets@g{gen:06d}.npy",
        f"arrays/passage_store_data@g{gen:06d}.npy",
    )


def store_layout(meta: Mapping[str, Any]) -> list[StoreSegment] | None:
    """The segments of an index manifest; None when the index has no passage store."""
    entry = meta.get("passage_store")
    if entry is None:
        return None
    return [StoreSegment(**s) for s in entry["segments"]]


@dataclass(slots=True)
class SegmentRows:
    """The arrays of one segment (in RAM after a build, memory-mapped when read)."""

    start: int
    stop: int
    offsets: np.ndarray
    data: np.ndarray

    def raw(self, row: int) -> bytes:
        """The stored bytes of ``row`` (empty: no passage there)."""
        i = row - self.start
        return bytes(self.data[int(self.offsets[i]) : int(self.offsets[i + 1])])


def encode_passage(p: Passage) -> bytes:
    """One passage's fields as the JSON array the store holds (metadata keys sorted)."""
    span = p.span or (None, None)
    fields = [p.id, p.title, p.text, p.document, dict(sorted(p.metadata.items())), p.chunk, *span]
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them as JSON escapes
        return json.dumps(fields, separators=(",", ":")).encode("ascii")


def decode_passage(raw: bytes) -> Passage:
    """The :class:`~hipporag.types.Passage` of one stored row."""
    pid, title, text, doc, meta, chunk, s0, s1 = json.loads(raw)
    span = None if s0 is None or s1 is None else (int(s0), int(s1))
    return Passage(pid, title, text, doc, meta, int(chunk), span)


def encode_segment(rows: Mapping[int, Passage | bytes], start: int, stop: int) -> SegmentRows:
    """A segment over ``[start, stop)`` holding ``rows`` (passages or their stored bytes)."""
    parts = [b""] * (stop - start)
    for row, value in rows.items():
        if not start <= row < stop:
            raise ValueError(f"row {row} is outside the segment {start}..{stop}")
        parts[row - start] = value if isinstance(value, bytes) else encode_passage(value)
    sizes = np.fromiter((len(b) for b in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(stop - start + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = np.frombuffer(b"".join(parts), dtype=np.uint8)
    return SegmentRows(start, stop, offsets, data)


class StoredPassages:
    """Passages by ``passage_idx`` from the store's segments; dead or absent rows raise."""

    def __init__(self, segments: Sequence[SegmentRows], live: np.ndarray) -> None:
        self.segments = list(segments)
        self.live = live
        self._starts = np.array([s.start for s in self.segments], dtype=np.int64)

    def raw(self, row: int) -> bytes:
        """The stored bytes of a row (empty when no segment holds a passage there)."""
        j = int(np.searchsorted(self._starts, row, side="right")) - 1
        if j < 0 or row >= self.segments[j].stop:
            return b""
        return self.segments[j].raw(row)

    def get(self, idxs: Sequence[int] | np.ndarray) -> list[Passage]:
        """Passages by ``passage_idx``, in the order given."""
        out = []
        n = self.live.shape[0]
        for i in idxs:
            row = int(i)
            raw = self.raw(row) if 0 <= row < n and self.live[row] else b""
            if not raw:
                raise KeyError(f"no live passage with passage_idx {row}")
            out.append(decode_passage(raw))
        return out


def load_segment(index: Any, seg: StoreSegment) -> SegmentRows:
    """The arrays of ``seg`` in an open index, memory-mapped, checked for shape."""
    from hipporag.index.integrity import damaged

    arrays = []
    for logical in (seg.offsets, seg.data):
        path = index.file(logical)
        try:
            arrays.append(np.load(path, mmap_mode="r", allow_pickle=False))
        except (ValueError, OSError, EOFError) as err:
            raise damaged(index.path, f"{path.name} cannot be read ({err})") from None
    offsets, data = arrays
    ok = (
        offsets.dtype == np.int64
        and data.dtype == np.uint8
        and offsets.shape == (seg.stop - seg.start + 1,)
        and int(offsets[0]) == 0
        and int(offsets[-1]) == data.shape[0]
        and bool(np.all(np.diff(offsets) >= 0))
    )
    if not ok:
        raise damaged(index.path, f"the passage store of rows {seg.start}..{seg.stop} is malformed")
    return SegmentRows(seg.start, seg.stop, offsets, data)


def load_store(index: Any) -> StoredPassages | None:
    """The :class:`StoredPassages` of an open index (None when it has none)."""
    meta = getattr(index, "meta", None)
    layout = store_layout(meta) if isinstance(meta, dict) else None
    if layout is None:
        return None
    live = np.asarray(index.live("passages"), dtype=bool)
    stop = layout[-1].stop if layout else 0
    if stop != live.shape[0]:
        from hipporag.index.integrity import damaged

        raise damaged(index.path, f"the passage store covers {stop} rows, not {live.shape[0]}")
    return StoredPassages([load_segment(index, s) for s in layout], live)


__all__ = [
    "FORMAT",
    "SegmentRows",
    "StoreSegment",
    "StoredPassages",
    "decode_passage",
    "encode_passage",
    "encode_segment",
    "file_names",
    "load_segment",
    "load_store",
    "store_layout",
]

"""The lexical (BM25) part of an index: postings as immutable segments over passage rows.

Like the HNSW segments (:mod:`hipporag.index.segments`), the lexical part is a
list of **segments**, each covering a contiguous range of passage rows
``[start, stop)`` and holding three memory-mappable arrays:

* ``terms``: a structured array ``(term uint64, offset int64)`` of ``T + 1``
  rows, sorted by term (a 64-bit blake2b hash of the token); the last row is a
  sentinel whose offset is the number of postings;
* ``postings``: a structured array ``(row int32, tf int32)``: for each term,
  the rows holding it and how often, rows ascending;
* ``doclen``: int32 ``[stop - start]``, the number of tokens of each row.

Nothing global is stored: document frequencies, the number of live passages
and the average length are computed at query time from the segments and the
passage live mask, so a deleted row stops counting the moment its live flag
drops, without rewriting any segment, and every statistic is the one a fresh
build of the live passages would have. A change writes one segment for the
rows it adds, merged with small or mostly-deleted trailing segments by the
same logarithmic policy as the HNSW segments (rebuilt from their postings,
never from the text).

Scoring is Okapi BM25 with Lucene's idf ``log(1 + (N - df + 0.5) / (df + 0.5))``
and length normalisation ``tf / (tf + k1 (1 - b + b dl / avgdl))`` (Lucene's, without
the constant factor ``k1 + 1``), summed over the distinct query terms.

Example:
    >>> tokenize("The XK-4471 pump, made in Zürich!")
    ['xk', '4471', 'pump', 'made', 'zürich']
    >>> seg = build_segment([0, 1], [["red", "fox"], ["red", "red", "dog"]], start=0, stop=2)
    >>> lex = LexicalIndex([seg], np.array([True, True]))
    >>> rows, scores = lex.search(["dog"])
    >>> rows.tolist(), round(float(scores[0]), 4)
    ([1], 0.2912)
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

TOKENIZER = "words-v1"
_WORD = re.compile(r"\w+", re.UNICODE)
# Function words only: they carry no evidence of which passage a question is about.
_STOP = """a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves"""
STOPWORDS = frozenset(_STOP.split())
TERM_DTYPE = np.dtype([("term", "<u8"), ("offset", "<i8")])
POSTING_DTYPE = np.dtype([("row", "<i4"), ("tf", "<i4")])
_HASHES: dict[str, int] = {}


def tokenize(text: str, *, stopwords: bool = True) -> list[str]:
    """Lower-cased unicode words of ``text`` (English function words dropped by default)."""
    words = _WORD.findall(text.lower())
    return [w for w in words if w not in STOPWORDS] if stopwords else words


def term_hash(token: str) -> int:
    """The stable 64-bit id of a token (blake2b; the same in every process)."""
    h = _HASHES.get(token)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
        if len(_HASHES) < 1_000_000:
            _HASHES[token] = h
    return h


@dataclass(frozen=True, slots=True)
class LexSegment:
    """Manifest entry of a segment: its row range, generation and files (manifest keys)."""

    start: int
    stop: int
    gen: int
    terms: str
    postings: str
    doclen: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_names(gen: int) -> tuple[str, str, str]:
    """Logical names of the three files of the segment written by generation ``gen``."""
    return tuple(f"arrays/lexical_{k}@g{gen:06d}.npy" for k in ("terms", "postings", "doclen"))  # type: ignore[return-value]


def lexical_layout(meta: dict[str, Any]) -> list[LexSegment] | None:
    """The segments of an index manifest; None when the index has no lexical part."""
    entry = meta.get("lexical")
    if entry is None:
        return None
    return [LexSegment(**s) for s in entry["segments"]]


@dataclass(slots=True)
class SegmentArrays:
    """The arrays of one segment (in RAM after a build, memory-mapped when read)."""

    start: int
    stop: int
    terms: np.ndarray
    postings: np.ndarray
    doclen: np.ndarray

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every posting as ``(term, row, tf)`` arrays."""
        offsets = np.asarray(self.terms["offset"])
        counts = np.diff(offsets)
        terms = np.repeat(np.asarray(self.terms["term"][:-1]), counts)
        return terms, np.asarray(self.postings["row"]), np.asarray(self.postings["tf"])

    def lookup(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, tfs) of ``term`` in this segment."""
        keys = self.terms["term"][:-1]
        i = int(np.searchsorted(keys, np.uint64(term)))
        if i >= keys.shape[0] or int(keys[i]) != term:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        a, b = int(self.terms["offset"][i]), int(self.terms["offset"][i + 1])
        block = self.postings[a:b]
        return np.asarray(block["row"]), np.asarray(block["tf"])


def _pack(
    terms: np.ndarray, rows: np.ndarray, tfs: np.ndarray, doclen: np.ndarray, start: int, stop: int
) -> SegmentArrays:
    order = np.lexsort((rows, terms))
    terms, rows, tfs = terms[order], rows[order], tfs[order]
    uniq, first = np.unique(terms, return_index=True)
    t = np.empty(uniq.shape[0] + 1, TERM_DTYPE)
    t["term"][:-1] = uniq
    t["term"][-1] = np.iinfo(np.uint64).max
    t["offset"][:-1] = first
    t["offset"][-1] = terms.shape[0]
    p = np.empty(rows.shape[0], POSTING_DTYPE)
    p["row"], p["tf"] = rows, tfs
    return SegmentArrays(start, stop, t, p, doclen.astype(np.int32))


def build_segment(
    rows: Sequence[int],
    tokens: Sequence[Sequence[str]],
    *,
    start: int,
    stop: int,
    carry: Iterable[SegmentArrays] = (),
    live: np.ndarray | None = None,
) -> SegmentArrays:
    """One segment over rows ``[start, stop)``: ``tokens`` of the new ``rows``, plus the
    live rows of the ``carry`` segments (older segments merged into this one)."""
    t_parts, r_parts, f_parts = [], [], []
    doclen = np.zeros(stop - start, np.int32)
    for seg in carry:
        terms, prow, tf = seg.triples()
        keep = live[prow] if live is not None else np.ones(prow.shape[0], bool)
        t_parts.append(terms[keep])
        r_parts.append(prow[keep])
        f_parts.append(tf[keep])
        lens = np.asarray(seg.doclen).copy()
        if live is not None:
            lens[~live[seg.start : seg.stop]] = 0
        doclen[seg.start - start : seg.stop - start] = lens
    terms_new, rows_new, tfs_new = [], [], []
    for row, toks in zip(rows, tokens, strict=True):
        doclen[row - start] = len(toks)
        for tok, n in Counter(toks).items():
            terms_new.append(term_hash(tok))
            rows_new.append(row)
            tfs_new.append(n)
    t_parts.append(np.array(terms_new, np.uint64))
    r_parts.append(np.array(rows_new, np.int32))
    f_parts.append(np.array(tfs_new, np.int32))
    return _pack(
        np.concatenate(t_parts),
        np.concatenate(r_parts),
        np.concatenate(f_parts),
        doclen,
        start,
        stop,
    )


class LexicalIndex:
    """BM25 over the segments of one index generation (statistics from live rows only).

    Args:
        segments: The segments, in row order.
        live: The passage live mask.
        k1, b: BM25's term-frequency saturation and length normalisation.
    """

    def __init__(
        self,
        segments: Sequence[SegmentArrays],
        live: np.ndarray,
        *,
        k1: float = 1.2,
        b: float = 0.75,
        stopwords: bool = True,
    ) -> None:
        self.segments = list(segments)
        self.live = np.asarray(live, dtype=bool)
        self.k1, self.b, self.stopwords = float(k1), float(b), stopwords
        self.doclen = np.zeros(self.live.shape[0], np.int64)
        for seg in self.segments:
            self.doclen[seg.start : seg.stop] = seg.doclen
        self.n_docs = int(self.live.sum())
        total = int(self.doclen[self.live].sum())
        self.avgdl = total / self.n_docs if self.n_docs else 1.0

    def query_terms(self, query: str) -> list[str]:
        """The distinct tokens of ``query``, in order of appearance."""
        return list(dict.fromkeys(tokenize(query, stopwords=self.stopwords)))

    def search(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every live passage holding a term: (rows int64, scores float64), row order."""
        rows_all, score_all = [], []
        n = self.n_docs
        for tok in dict.fromkeys(terms):
            h = term_hash(tok)
            found = [seg.lookup(h) for seg in self.segments]
            rows = np.concatenate([f[0] for f in found]).astype(np.int64)
            tfs = np.concatenate([f[1] for f in found]).astype(np.float64)
            keep = self.live[rows]
            rows, tfs = rows[keep], tfs[keep]
            df = rows.shape[0]
            if df == 0:
                continue
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self.doclen[rows] / self.avgdl)
            rows_all.append(rows)
            score_all.append(idf * tfs / (tfs + norm))
        if not rows_all:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        rows = np.concatenate(rows_all)
        uniq, inv = np.unique(rows, return_inverse=True)
        return uniq, np.bincount(inv, weights=np.concatenate(score_all), minlength=uniq.shape[0])

    def score_query(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` over the tokens of a query text."""
        return self.search(self.query_terms(query))


def passage_tokens(title: str, text: str) -> list[str]:
    """The tokens a passage is indexed under: its title and its text."""
    return tokenize(f"{title}\n{text}" if title else text)


def load_segment(index: Any, seg: LexSegment) -> SegmentArrays:
    """The arrays of ``seg`` in an open index, memory-mapped, checked against the manifest."""
    from hipporag.index.integrity import damaged

    arrays = []
    for logical in (seg.terms, seg.postings, seg.doclen):
        path = index.file(logical)
        try:
            arrays.append(np.load(path, mmap_mode="r", allow_pickle=False))
        except (ValueError, OSError, EOFError) as err:
            raise damaged(index.path, f"{path.name} cannot be read ({err})") from None
    terms, postings, doclen = arrays
    ok = (
        terms.dtype == TERM_DTYPE
        and postings.dtype == POSTING_DTYPE
        and doclen.shape == (seg.stop - seg.start,)
        and terms.shape[0] >= 1
        and int(terms["offset"][-1]) == postings.shape[0]
    )
    if ok and postings.shape[0]:
        rows = postings["row"]
        ok = bool(int(rows.min()) >= seg.start and int(rows.max()) < seg.stop)
        ok = ok and bool(np.all(np.diff(terms["term"][:-1].astype(np.uint64)) > 0))
    if not ok:
        raise damaged(
            index.path, f"the lexical segment of rows {seg.start}..{seg.stop} is malformed"
        )
    return SegmentArrays(seg.start, seg.stop, terms, postings, doclen)


def load_lexical(index: Any, **bm25: float) -> LexicalIndex | None:
    """The :class:`LexicalIndex` of an open index (None when it has no lexical part)."""
    meta = getattr(index, "meta", None)
    layout = lexical_layout(meta) if isinstance(meta, dict) else None
    if layout is None:
        return None
    live = np.asarray(index.live("passages"), dtype=bool)
    stop = layout[-1].stop if layout else 0
    if stop != live.shape[0]:
        from hipporag.index.integrity import damaged

        raise damaged(
            index.path, f"the lexical part covers {stop} passage rows, not {live.shape[0]}"
        )
    stopwords = bool(meta["lexical"].get("stopwords", True))
    return LexicalIndex([load_segment(index, s) for s in layout], live, stopwords=stopwords, **bm25)


__all__ = [
    "POSTING_DTYPE",
    "STOPWORDS",
    "TERM_DTYPE",
    "TOKENIZER",
    "LexSegment",
    "LexicalIndex",
    "SegmentArrays",
    "build_segment",
    "file_names",
    "lexical_layout",
    "load_lexical",
    "load_segment",
    "passage_tokens",
    "term_hash",
    "tokenize",
]

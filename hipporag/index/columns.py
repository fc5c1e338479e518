"""Arrays stored as immutable pieces, so that a change writes what it changed.

A *column* (one logical array such as ``passage_embeddings`` or ``entity_live``)
is an ordered list of **row pieces**, each holding the values of a contiguous
range of rows, plus an ordered list of **patches**, each holding new values for
some existing rows. Every piece and patch carries the generation that wrote it,
and a patch applies only to rows whose piece is older than the patch: a piece
that merges older pieces already holds their patched values.

A change appends one row piece for its new rows and, where it changed existing
rows (a deleted row's ``live`` flag, an entity's passage count, a synonymy
list), one patch. The merge policy (:func:`plan_column`) then keeps the number
of pieces logarithmic, as Bentley and Saxe's logarithmic method does: while the
last piece is at least a quarter of the size of the one before it, the two are
merged into one; and when the patches add up to more than a quarter of the rows,
the whole column is rewritten as one piece. Every row is thus rewritten
``O(log n)`` times over its life, and a change writes ``O(change)`` bytes
amortised. Readers memory-map a one-piece column as before; a column of several
pieces is a :class:`PartedArray` (embeddings: no copy) or is assembled in RAM
(the small per-row arrays).

Example:
    >>> import numpy as np
    >>> a = PartedArray([np.eye(2), np.full((1, 2), 3.0)])
    >>> a.shape, a[[2, 0]].tolist(), (a @ np.array([1.0, 2.0])).tolist()
    ((3, 2), [[3.0, 3.0], [1.0, 0.0]], [1.0, 2.0, 9.0])
    >>> plan_column([Piece("a", 0, 1000, 1), Piece("b", 1000, 30, 2)], [], new_rows=5)
    ('append', 2)
    >>> plan_column([Piece("a", 0, 1000, 1), Piece("b", 1000, 30, 2)], [], new_rows=10)
    ('append', 1)
    >>> plan_column([Piece("a", 0, 100, 1)], [Patch("p", 40, 2)], new_rows=0)
    ('rewrite', 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# A patch budget and a merge ratio: see the module docstring.
PATCH_FRACTION = 0.25
MERGE_RATIO = 4


@dataclass(frozen=True, slots=True)
class Piece:
    """Rows ``start .. start + rows - 1`` of a column, in ``file`` (a manifest key)."""

    file: str
    start: int
    rows: int
    gen: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Patch:
    """New values of ``rows`` existing rows, in ``file`` (a structured ``row``/``value`` array)."""

    file: str
    rows: int
    gen: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def piece_name(column: str, start: int, gen: int) -> str:
    """Logical file name of a row piece (the first piece keeps the plain name)."""
    return f"arrays/{column}.npy" if start == 0 else f"arrays/{column}@g{gen:06d}.npy"


def patch_name(column: str, gen: int) -> str:
    """Logical file name of a patch."""
    return f"arrays/{column}@g{gen:06d}.patch.npy"


def column_layout(meta: dict[str, Any], column: str) -> tuple[list[Piece], list[Patch]]:
    """Pieces and patches of ``column`` in a manifest (a lone file in older manifests)."""
    entry = meta.get("columns", {}).get(column)
    if entry is None:
        rows = _rows_of(meta, column)
        return [Piece(f"arrays/{column}.npy", 0, rows, int(meta.get("generation", 0)))], []
    pieces = [Piece(**p) for p in entry["pieces"]]
    patches = [Patch(**p) for p in entry.get("patches", [])]
    return pieces, patches


def _rows_of(meta: dict[str, Any], column: str) -> int:
    counts = meta.get("counts", {})
    for prefix, key in (("passage", "passages"), ("entity", "entities"), ("fact", "facts")):
        if column.startswith(prefix):
            return int(counts.get(key, 0))
    if column.startswith("synonymy"):
        return int(counts.get("entities", 0))
    return -1  # not row-aligned (the graph arrays): one piece, size from the file


def plan_column(
    pieces: Sequence[Piece], patches: Sequence[Patch], *, new_rows: int
) -> tuple[str, int]:
    """What a change writes for a column: ``(how, keep)``.

    ``how`` is ``"append"`` (keep the first ``keep`` pieces, write the rest of
    the rows as one piece, plus a patch if rows changed) or ``"rewrite"`` (one
    piece for the whole column, no patches). ``pieces`` and ``patches`` are the
    parent's; ``new_rows`` the rows the change adds.
    """
    total = sum(p.rows for p in pieces) + new_rows
    if not pieces or total == 0:
        return "rewrite", 0
    if sum(p.rows for p in patches) > PATCH_FRACTION * total:
        return "rewrite", 0
    keep = len(pieces)
    tail = new_rows
    # merge the new rows with the last pieces while they are not much smaller
    while keep > 0 and pieces[keep - 1].rows <= MERGE_RATIO * max(tail, 1) and tail > 0:
        tail += pieces[keep - 1].rows
        keep -= 1
    if keep == 0:
        return "rewrite", 0
    return "append", keep


class PartedArray:
    """A read-only array made of row pieces (memory-mapped), without copying them.

    Supports what the retrievers ask of an embeddings matrix: ``shape``,
    ``len``, indexing by an int, a slice or an array of rows, ``@`` a vector or
    matrix, and ``np.asarray`` (which does copy).
    """

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        self.parts = [p for p in parts if p.shape[0]] or list(parts[:1])
        self.starts = np.cumsum([0] + [p.shape[0] for p in self.parts])
        first = self.parts[0]
        self.shape = (int(self.starts[-1]), *first.shape[1:])
        self.dtype = first.dtype
        self.ndim = first.ndim

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            rows = self[key[0]]
            return rows[(slice(None), *key[1:])] if not np.isscalar(key[0]) else rows[key[1:]]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {key} out of range for {self.shape[0]} rows")
            j = int(np.searchsorted(self.starts, i, side="right")) - 1
            return self.parts[j][i - self.starts[j]]
        if isinstance(key, slice):
            key = np.arange(self.shape[0])[key]
        rows = np.asarray(key)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64).reshape(-1)
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"rows out of range for {self.shape[0]} rows")
        out = np.empty((rows.shape[0], *self.shape[1:]), dtype=self.dtype)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for j in np.unique(which).tolist():
            sel = which == j
            out[sel] = self.parts[j][rows[sel] - self.starts[j]]
        return out

    def __matmul__(self, other: Any) -> np.ndarray:
        return np.concatenate([np.asarray(p @ other) for p in self.parts])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.concatenate([np.asarray(p) for p in self.parts])
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"PartedArray(shape={self.shape}, pieces={len(self.parts)})"


def patch_array(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A patch as one structured array (fields ``row`` and ``value``; no pickle)."""
    values = np.asarray(values)
    dt = np.dtype([("row", np.int64), ("value", values.dtype, values.shape[1:])])
    out = np.empty(rows.shape[0], dtype=dt)
    out["row"] = rows
    out["value"] = values
    return out


def assemble(
    pieces: Sequence[tuple[Piece, np.ndarray]], patches: Sequence[tuple[Patch, np.ndarray]]
) -> np.ndarray:
    """One array in RAM from row pieces and patches (a patch updates older pieces' rows)."""
    arrays = [a for _, a in pieces]
    out = np.concatenate(arrays) if len(arrays) > 1 else np.array(arrays[0])
    if not patches:
        return out
    starts = np.array([p.start for p, _ in pieces], dtype=np.int64)
    gens = np.array([p.gen for p, _ in pieces], dtype=np.int64)
    for patch, data in patches:
        rows = data["row"]
        owner = gens[np.searchsorted(starts, rows, side="right") - 1]
        ok = owner < patch.gen
        out[rows[ok]] = data["value"][ok]
    return out


__all__ = [
    "MERGE_RATIO",
    "PATCH_FRACTION",
    "PartedArray",
    "Patch",
    "Piece",
    "assemble",
    "column_layout",
    "patch_array",
    "patch_name",
    "piece_name",
    "plan_column",
]

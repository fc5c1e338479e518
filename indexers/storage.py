"""Writing a generation's arrays, HNSW segments and graph as pieces: O(change) bytes.

What a change writes, per part of the index (the formats are in
:mod:`hipporag.index.columns`, :mod:`hipporag.index.segments` and
:mod:`hipporag.index.graphdelta`):

* each array (column): nothing when it did not change; else one piece for the
  rows it added (merged with small trailing pieces by the merge policy) and
  one patch for the existing rows whose values changed (live flags, passage
  counts, synonymy lists); the vectors of existing rows never change;
* each HNSW index: one new segment over the new rows (merged with small or
  mostly-deleted trailing segments, as planned by
  :func:`indexers.changes.update_search`);
* the graph: the pairs whose weight changed, or a fresh CSR when the deltas
  grow past a quarter of the base's pairs.

The functions return the manifest entries (``columns``, ``segments``,
``graph``) that say which files make up the generation.

Example:
    >>> changed_rows(np.array([1, 2, 3]), np.array([1, 5, 3, 4])).tolist()
    [1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.graph import CSRGraph
from hipporag.index import IndexWriter
from hipporag.index import graphdelta as gd
from hipporag.index.columns import (
    Patch,
    Piece,
    column_layout,
    patch_array,
    patch_name,
    piece_name,
    plan_column,
)
from hipporag.index.segments import Segment, segment_layout, segment_name
from hipporag.types import Passage
from indexers.state import GraphState, RowStore

VECTOR_COLUMNS = {
    "passage_embeddings": "p_vec",
    "entity_embeddings": "e_vec",
    "fact_embeddings": "f_vec",
}


def changed_rows(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Rows of ``old`` whose values differ in ``new`` (which may have more rows)."""
    n = old.shape[0]
    neq = np.asarray(old) != np.asarray(new[:n])
    if neq.ndim > 1:
        neq = neq.reshape(n, -1).any(axis=1)
    return np.flatnonzero(neq).astype(np.int64)


def _rows(values: Any, start: int, stop: int) -> np.ndarray:
    if isinstance(values, RowStore):
        return values[np.arange(start, stop)]
    return np.asarray(values[start:stop])


def write_column(
    w: IndexWriter, name: str, values: Any, parent: dict[str, Any] | None, old: Any = None
) -> dict[str, Any]:
    """Write what changed in one column; returns its manifest entry.

    ``parent`` is the parent generation's manifest (None: write the column
    whole) and ``old`` its values of this column (not needed for vectors).
    """
    n = int(values.shape[0])
    gen = w.generation
    if parent is None:
        logical = w.write_array(name, _rows(values, 0, n))
        return {"pieces": [Piece(logical, 0, n, gen).to_dict()], "patches": []}
    pieces, patches = column_layout(parent, name)
    n_old = sum(p.rows for p in pieces)
    if name in VECTOR_COLUMNS or old is None:  # vectors of existing rows never change
        changed = np.zeros(0, np.int64)
    else:
        changed = changed_rows(np.asarray(old), values)
    if n == n_old and not changed.shape[0]:
        for p in [*pieces, *patches]:
            w.share(p.file)
        return {"pieces": [p.to_dict() for p in pieces], "patches": [p.to_dict() for p in patches]}
    pending = [Patch("", int(changed.shape[0]), gen)] if changed.shape[0] else []
    how, keep = plan_column(pieces, [*patches, *pending], new_rows=n - n_old)
    if how == "rewrite":
        logical = w.write_array(name, _rows(values, 0, n))
        return {"pieces": [Piece(logical, 0, n, gen).to_dict()], "patches": []}
    kept = pieces[:keep]
    start = pieces[keep].start if keep < len(pieces) else n_old
    for p in [*kept, *patches]:
        w.share(p.file)
    out_pieces = [p.to_dict() for p in kept]
    if start < n:
        logical = w.write_array(name, _rows(values, start, n), logical=piece_name(name, start, gen))
        out_pieces.append(Piece(logical, start, n - start, gen).to_dict())
    out_patches = [p.to_dict() for p in patches]
    before = changed[changed < start]
    if before.shape[0]:
        data = patch_array(before, np.asarray(values[before]))
        logical = w.write_array(name, data, logical=patch_name(name, gen))
        out_patches.append(Patch(logical, int(before.shape[0]), gen).to_dict())
    return {"pieces": out_pieces, "patches": out_patches}


def write_columns(w: IndexWriter, arrays: dict[str, Any], base: Any) -> dict[str, Any]:
    """:func:`write_column` for every array; returns the manifest's ``columns``.

    ``base`` is the parent :class:`~hipporag.index.Index` (None: write all whole).
    """
    parent = None if base is None else base.meta
    out = {}
    for name, values in arrays.items():
        old = None if base is None or name in VECTOR_COLUMNS else base.array(name)
        out[name] = write_column(w, name, values, parent, old)
    return out


def write_segments(
    w: IndexWriter, state: GraphState, parent: dict[str, Any] | None
) -> dict[str, list[dict[str, Any]]]:
    """Share the kept HNSW segments and save the new one; returns the manifest's ``segments``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in ("passages", "entities", "facts"):
        keep, start, index, count = state.search_plan.get(table, (0, 0, None, 0))
        segs = segment_layout(parent, table)[:keep] if parent is not None else []
        for seg in segs:
            w.share(seg.file)
        entry = [s.to_dict() for s in segs]
        if index is not None:
            n = {"passages": state.n_passages, "entities": state.n_entities}.get(
                table, state.n_facts
            )
            logical = w.save_hnsw(table, index, logical=segment_name(table, start, w.generation))
            entry.append(Segment(logical, start, n, w.generation, count).to_dict())
        out[table] = entry
    return out


def write_graph(
    w: IndexWriter,
    state: GraphState,
    edges: dict[str, tuple[np.ndarray, ...]],
    parent: dict[str, Any] | None,
) -> dict[str, Any]:
    """The graph's edge delta against the parent, or a fresh CSR; returns ``graph``."""
    E, P = state.n_entities, state.n_passages
    src = np.concatenate([e[0] for e in edges.values()])
    dst = np.concatenate([e[1] for e in edges.values()])
    wt = np.concatenate([e[2] for e in edges.values()])
    keys, weights = gd.edge_pairs(src, dst, wt, E)
    layout = None if parent is None else parent.get("graph")
    if parent is not None and state.base is not None:
        if layout is None:  # a parent with a lone CSR is its own base
            layout = {"entities": int(parent["counts"]["entities"]), "deltas": []}
            layout["nodes"] = int(parent["counts"]["entities"]) + int(parent["counts"]["passages"])
            layout["pairs"] = int(state.base.graph.n_stored_edges // 2)
        old_keys, old_w = gd.csr_pairs(state.base.graph, state.base.n_entities)
        d_keys, d_w = gd.diff(old_keys, old_w, keys, weights)
        total = sum(int(d["edges"]) for d in layout["deltas"]) + d_keys.shape[0]
        if total <= gd.DELTA_FRACTION * max(int(layout["pairs"]), 1):
            for name in ("graph_indptr", "graph_indices", "graph_weights"):
                w.share(f"arrays/{name}.npy")
            deltas = list(layout["deltas"])
            for d in deltas:
                w.share(d["file"])
            if d_keys.shape[0]:
                logical = f"arrays/graph_delta@g{w.generation:06d}.npy"
                w.write_array("graph_delta", gd.delta_array(d_keys, d_w), logical=logical)
                deltas.append({"file": logical, "edges": int(d_keys.shape[0]), "gen": w.generation})
            return {**layout, "deltas": deltas}
    graph = gd.to_csr(keys, weights, n_entities=E, n_passages=P)
    _write_csr(w, graph)
    return {"entities": E, "nodes": E + P, "pairs": int(keys.shape[0]), "deltas": []}


def _write_csr(w: IndexWriter, graph: CSRGraph) -> None:
    w.write_array("graph_indptr", graph.indptr)
    w.write_array("graph_indices", graph.indices)
    w.write_array("graph_weights", graph.weights)


def with_old_rows(
    base: Any, live: np.ndarray, passages: Sequence[Passage], rows: np.ndarray
) -> tuple[list[Passage], np.ndarray]:
    """A change's ``passages`` at ``rows`` after every other live passage of ``base``."""
    old = np.flatnonzero(live[: base.n_passages]).astype(np.int64)
    old = old[~np.isin(old, rows)]
    return list(base.passages(old.tolist())) + list(passages), np.concatenate([old, rows])


__all__ = [
    "changed_rows",
    "with_old_rows",
    "write_column",
    "write_columns",
    "write_graph",
    "write_segments",
]

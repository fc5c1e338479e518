"""The rows one change writes to the index tables, and the rows it kills.

A change's DuckDB part (:mod:`hipporag.index.tables`) holds the rows of the
new passages (with their provenance and mentions), the new facts, the new
entities and the entities whose ``n_passages`` changed (a new version), and
the synonymy edges of every entity whose synonymy edge set changed (computed
as :func:`indexers.commit.edges_of` does and diffed against the parent's
``synonymy`` rows). Tombstones kill the parent's rows of deleted passages,
facts and entities and the old versions of rewritten rows.

Example:
    >>> import numpy as np
    >>> old = (np.array([0, 1]), np.array([2, 3]), np.array([0.9, 0.8]))
    >>> new = (np.array([0, 1, 4]), np.array([2, 5, 6]), np.array([0.9, 0.8, 0.7]))
    >>> rows, dead = synonymy_diff(new, old)
    >>> rows.to_pydict()["src"], dead.tolist()
    ([1, 4], [1])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from hipporag.index import Index
from hipporag.index.parts import TableChange
from hipporag.metadata import metadata_json
from hipporag.text import entity_id
from indexers.changes import Delta
from indexers.state import GraphState

Edges = tuple[np.ndarray, np.ndarray, np.ndarray]


def _ids(a: Any) -> list[int]:
    return [int(x) for x in a]


def _edge_frame(edges: Edges) -> pl.DataFrame:
    w = np.ascontiguousarray(edges[2], dtype=np.float64)
    return pl.DataFrame(
        {
            "src": np.asarray(edges[0], dtype=np.int64),
            "dst": np.asarray(edges[1], dtype=np.int64),
            "bits": w.view(np.int64),
            "weight": w,
        }
    )


def synonymy_diff(new: Edges, old: Edges) -> tuple[Any, np.ndarray]:
    """The synonymy rows to write and the ``src`` keys to tombstone.

    Every entity (``src``) whose set of ``(dst, weight)`` rows differs between
    ``old`` and ``new`` gets all its new rows written; those that had old rows
    are tombstoned. Weights are compared exactly.
    """
    n, o = _edge_frame(new), _edge_frame(old)
    on = ["src", "dst", "bits"]
    changed = pl.concat(
        [n.join(o, on=on, how="anti")["src"], o.join(n, on=on, how="anti")["src"]]
    ).unique()
    rows = n.filter(pl.col("src").is_in(changed)).sort("src", "dst")
    dead = np.intersect1d(changed.to_numpy(), o["src"].unique().to_numpy())
    frame = rows.select(
        pl.col("src").cast(pl.Int32), pl.col("dst").cast(pl.Int32), pl.col("weight")
    )
    return frame.to_arrow(), dead.astype(np.int64)


def _passages(d: Delta) -> pl.DataFrame:
    ps = d.passages
    return pl.DataFrame(
        {
            "passage_idx": d.passage_rows.astype(np.int32),
            "passage_id": [p.id for p in ps],
            "doc_id": [p.document for p in ps],
            "title": [p.title for p in ps],
            "text": [p.text for p in ps],
            "metadata": [metadata_json(p.metadata) for p in ps],
            "chunk": [int(p.chunk) for p in ps],
            "span_start": [p.span[0] if p.span else None for p in ps],
            "span_end": [p.span[1] if p.span else None for p in ps],
        },
        schema_overrides={
            "passage_id": pl.Utf8,
            "doc_id": pl.Utf8,
            "title": pl.Utf8,
            "text": pl.Utf8,
            "metadata": pl.Utf8,
            "chunk": pl.Int32,
            "span_start": pl.Int64,
            "span_end": pl.Int64,
        },
    )


def reversioned_entities(state: GraphState, d: Delta, parent: Index | None) -> np.ndarray:
    """Live entities of the parent whose ``n_passages`` the change altered, sorted."""
    if parent is None:
        return np.zeros(0, np.int64)
    new_e = set(_ids(d.new_entities))
    touched = sorted(i for i in d.touched_entities if i not in new_e and state.live_e[i])
    if not touched:
        return np.zeros(0, np.int64)
    before = dict(
        parent.connection()
        .execute(
            "SELECT entity_idx, n_passages FROM entities "
            "WHERE entity_idx IN (SELECT unnest($1::INTEGER[]))",
            [touched],
        )
        .fetchall()
    )
    return np.array([i for i in touched if before.get(i) != int(state.e_npass[i])], dtype=np.int64)


def parent_synonymy(parent: Index | None) -> Edges:
    """The parent generation's synonymy edges (none for a build)."""
    if parent is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    got = (
        parent.connection()
        .execute("SELECT src, dst, weight FROM edges WHERE kind = 'synonymy'")
        .fetchnumpy()
    )
    return got["src"], got["dst"], got["weight"]


def table_change(
    state: GraphState, d: Delta, edges: dict[str, Edges], parent: Index | None
) -> TableChange:
    """The rows and tombstones of the change ``d`` (applied to ``parent``, or a build)."""
    again = reversioned_entities(state, d, parent)
    ents = np.union1d(d.new_entities.astype(np.int64), again)
    names = [state.entity_names[i] for i in ents]
    nf = d.new_facts
    new_p = np.isin(state.provenance[:, 1], d.passage_rows)
    new_m = np.isin(state.mentions[:, 1], d.passage_rows)
    m = state.mentions[new_m]
    syn_rows, syn_dead = synonymy_diff(edges["synonymy"], parent_synonymy(parent))
    frames = {
        "passages": _passages(d),
        "entities": pl.DataFrame(
            {
                "entity_idx": ents.astype(np.int32),
                "entity_id": [entity_id(n) for n in names],
                "name": names,
                "n_passages": state.e_npass[ents].astype(np.int32),
            },
            schema_overrides={"entity_id": pl.Utf8, "name": pl.Utf8},
        ),
        "facts": pl.DataFrame(
            {
                "fact_idx": nf.astype(np.int32),
                "subject_idx": state.fact_subject[nf].astype(np.int32),
                "relation": [state.fact_relation[i] for i in nf],
                "object_idx": state.fact_object[nf].astype(np.int32),
                "text": [state.fact_text[i] for i in nf],
            },
            schema_overrides={"relation": pl.Utf8, "text": pl.Utf8},
        ),
        "fact_provenance": pl.DataFrame(
            {"fact_idx": state.provenance[new_p, 0], "passage_idx": state.provenance[new_p, 1]}
        ).cast(pl.Int32),
        "mentions": pl.DataFrame(
            {"entity_idx": m[:, 0], "passage_idx": m[:, 1], "n": m[:, 2]}
        ).cast(pl.Int32),
    }
    rows = {k: v.to_arrow() for k, v in frames.items()}
    rows["synonymy"] = syn_rows
    return TableChange(
        rows=rows,
        tombstones={
            "passages": d.dead_passages.astype(np.int64),
            "entities": np.union1d(d.dead_entities.astype(np.int64), again),
            "facts": d.dead_facts.astype(np.int64),
            "synonymy": syn_dead,
        },
    )


def live_after(state: GraphState, edges: dict[str, Edges]) -> int:
    """Live rows of the six part tables once the change is applied."""
    return (
        int(state.live_p.sum())
        + int(state.live_e.sum())
        + int(state.live_f.sum())
        + int(state.provenance.shape[0])
        + int(state.mentions.shape[0])
        + int(edges["synonymy"][0].shape[0])
    )


__all__ = [
    "live_after",
    "parent_synonymy",
    "reversioned_entities",
    "synonymy_diff",
    "table_change",
]

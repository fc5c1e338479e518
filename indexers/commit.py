"""Writing a changed :class:`~indexers.state.GraphState` as the next generation.

The database of the parent generation is copied and the change applied to it
(rows of deleted passages, facts and entities removed, new rows inserted,
``n_passages`` of touched entities updated, edges replaced); arrays, HNSW
segments and the graph are written as pieces by :mod:`indexers.storage`:
only what the change added or changed.

Example:
    >>> from hipporag.config import IndexConfig
    >>> s = GraphState.empty(dim=2, synonymy_k=2)
    >>> sorted(edges_of(s, IndexConfig()))
    ['fact', 'passage_entity', 'synonymy']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from hipporag.config import IndexConfig
from hipporag.index import IndexWriter
from hipporag.index.format import DB_FILE
from hipporag.metadata import metadata_json
from hipporag.text import entity_id
from indexers.changes import Delta
from indexers.state import GraphState
from indexers.storage import write_columns, write_graph, write_segments


def _ids(a: np.ndarray) -> list[int]:
    return [int(x) for x in a]


def edges_of(state: GraphState, config: IndexConfig) -> dict[str, tuple[np.ndarray, ...]]:
    from indexers.synonymy import SynonymyLists

    syn = SynonymyLists(state.syn_knn, state.syn_sim).edges(state.entity_names, state.e_vec)
    return {
        "fact": state.fact_edges(),
        "passage_entity": state.passage_entity_edges(config.graph.passage_entity_weight),
        "synonymy": syn,
    }


def apply_to_db(con: Any, state: GraphState, d: Delta, edges: dict[str, tuple]) -> None:
    """The change as SQL on a copy of the parent's database (or on a new one)."""
    for table, col, rows in (
        ("fact_provenance", "passage_idx", d.dead_passages),
        ("mentions", "passage_idx", d.dead_passages),
        ("passages", "passage_idx", d.dead_passages),
        ("facts", "fact_idx", d.dead_facts),
        ("entities", "entity_idx", d.dead_entities),
    ):
        if rows.shape[0]:
            con.execute(
                f"DELETE FROM {table} WHERE {col} IN (SELECT unnest($1::INTEGER[]))", [_ids(rows)]
            )
    con.execute("DELETE FROM edges")  # recomputed: passage node ids are E + passage_idx

    def put(table: str, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        con.register("_incoming", frame.to_arrow())
        cols = ", ".join(frame.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
        con.unregister("_incoming")

    ps = d.passages
    put(
        "passages",
        pl.DataFrame(
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
        ),
    )
    new_e = set(_ids(d.new_entities))
    touched = sorted(i for i in d.touched_entities if i not in new_e and state.live_e[i])
    if touched:
        con.execute(
            "UPDATE entities SET n_passages = u.n FROM (SELECT unnest($1::INTEGER[]) AS i, "
            "unnest($2::INTEGER[]) AS n) u WHERE entities.entity_idx = u.i",
            [touched, [int(state.e_npass[i]) for i in touched]],
        )
    names = [state.entity_names[i] for i in d.new_entities]
    put(
        "entities",
        pl.DataFrame(
            {
                "entity_idx": d.new_entities.astype(np.int32),
                "entity_id": [entity_id(n) for n in names],
                "name": names,
                "n_passages": state.e_npass[d.new_entities].astype(np.int32),
            },
            schema_overrides={"entity_id": pl.Utf8, "name": pl.Utf8},
        ),
    )
    nf = d.new_facts
    put(
        "facts",
        pl.DataFrame(
            {
                "fact_idx": nf.astype(np.int32),
                "subject_idx": state.fact_subject[nf].astype(np.int32),
                "relation": [state.fact_relation[i] for i in nf],
                "object_idx": state.fact_object[nf].astype(np.int32),
                "text": [state.fact_text[i] for i in nf],
            },
            schema_overrides={"relation": pl.Utf8, "text": pl.Utf8},
        ),
    )
    new_p = np.isin(state.provenance[:, 1], d.passage_rows)
    put(
        "fact_provenance",
        pl.DataFrame(
            {"fact_idx": state.provenance[new_p, 0], "passage_idx": state.provenance[new_p, 1]}
        ).cast(pl.Int32),
    )
    new_m = np.isin(state.mentions[:, 1], d.passage_rows)
    m = state.mentions[new_m]
    put(
        "mentions",
        pl.DataFrame({"entity_idx": m[:, 0], "passage_idx": m[:, 1], "n": m[:, 2]}).cast(pl.Int32),
    )
    for kind, (src, dst, wt) in edges.items():
        put(
            "edges",
            pl.DataFrame(
                {
                    "src": src.astype(np.int32),
                    "dst": dst.astype(np.int32),
                    "kind": [kind] * src.shape[0],
                    "weight": wt.astype(np.float64),
                },
                schema_overrides={"kind": pl.Utf8},
            ),
        )


def write_generation(
    w: IndexWriter,
    state: GraphState,
    d: Delta,
    config: IndexConfig,
    *,
    meta: dict[str, Any],
    extra_counts: dict[str, Any] | None = None,
    rewrite: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Commit ``state`` as ``w``'s generation; returns (path, counts).

    ``state`` must have been loaded from ``w``'s parent generation (or be empty).
    ``rewrite`` writes every array, segment and the graph whole (a compaction),
    with zeros for the vectors of deleted rows: nothing deleted stays on disk
    once the older generations are collected.
    """
    edges = edges_of(state, config)
    E, P = state.n_entities, state.n_passages
    counts = {
        "passages": P,
        "entities": E,
        "facts": state.n_facts,
        "live": {
            "passages": int(state.live_p.sum()),
            "entities": int(state.live_e.sum()),
            "facts": int(state.live_f.sum()),
        },
        "fact_provenance": int(state.provenance.shape[0]),
        "mentions": int(state.mentions.shape[0]),
        "edges": {k: int(v[0].shape[0]) for k, v in edges.items()},
        "graph_nodes": E + P,
        **(extra_counts or {}),
    }
    arrays = {
        "passage_embeddings": state.p_vec,
        "passage_live": state.live_p,
        "entity_embeddings": state.e_vec,
        "entity_live": state.live_e,
        "entity_n_passages": state.e_npass.astype(np.int32),
        "synonymy_knn": state.syn_knn,
        "synonymy_sim": state.syn_sim,
        "fact_embeddings": state.f_vec,
        "fact_subject": state.fact_subject.astype(np.int32),
        "fact_object": state.fact_object.astype(np.int32),
        "fact_live": state.live_f,
    }
    base = state.base
    reuse = base is not None and w.base is not None
    if reuse:
        if w.base.get("generation") != base.generation or base.format_version < 2:
            raise RuntimeError("the state was not loaded from the writer's parent generation")
        con = w.open_db(copy_from=base.file(DB_FILE))
    else:
        con = w.open_db()
    apply_to_db(con, state, d, edges)
    parent = w.base if reuse and not rewrite else None
    if rewrite:
        for name, live in (
            ("passage_embeddings", state.live_p),
            ("entity_embeddings", state.live_e),
            ("fact_embeddings", state.live_f),
        ):
            vec = arrays[name][np.arange(live.shape[0])]
            vec[~live] = 0
            arrays[name] = vec
    layout = {
        "columns": write_columns(w, arrays, base if parent is not None else None),
        "segments": write_segments(w, state, parent),
        "graph": write_graph(w, state, edges, parent),
    }
    path = w.commit({**meta, **layout, "counts": counts})
    return path, counts


__all__ = ["apply_to_db", "edges_of", "write_generation"]

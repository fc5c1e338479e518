"""Writing a changed :class:`~indexers.state.GraphState` as the next generation.

The tables get a new DuckDB part holding only what the change wrote (new
rows, new versions of entities whose ``n_passages`` changed, changed synonymy
edges) and tombstones for the rows it killed; the parent's parts are shared
(:mod:`indexers.dbchange`, :mod:`hipporag.index.parts`); ``edges`` is a view.
Arrays and HNSW indexes of tables the change did not touch are shared with the
parent; the graph CSR arrays are recomputed from the edge lists (O(edges), no
search).

Example:
    >>> sorted(GROUPS)
    ['entities', 'facts', 'passages']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.graph import CSRGraph
from hipporag.index import IndexWriter
from hipporag.index.format import HNSW_DIR
from hipporag.index.parts import write_tables
from indexers.changes import Delta
from indexers.dbchange import live_after, table_change
from indexers.state import GraphState

GROUPS = {
    "passages": ("passage_embeddings", "passage_live"),
    "entities": (
        "entity_embeddings",
        "entity_live",
        "entity_n_passages",
        "synonymy_knn",
        "synonymy_sim",
    ),
    "facts": ("fact_embeddings", "fact_subject", "fact_object", "fact_live"),
}


def _changed(d: Delta) -> dict[str, bool]:
    return {
        "passages": bool(d.passage_rows.shape[0] or d.dead_passages.shape[0]),
        "entities": bool(d.new_entities.shape[0] or d.dead_entities.shape[0] or d.touched_entities),
        "facts": bool(d.new_facts.shape[0] or d.dead_facts.shape[0]),
    }


def edges_of(state: GraphState, config: IndexConfig) -> dict[str, tuple[np.ndarray, ...]]:
    from indexers.synonymy import SynonymyLists

    syn = SynonymyLists(state.syn_knn, state.syn_sim).edges(state.entity_names, state.e_vec)
    return {
        "fact": state.fact_edges(),
        "passage_entity": state.passage_entity_edges(config.graph.passage_entity_weight),
        "synonymy": syn,
    }


def apply_to_db(
    w: IndexWriter, state: GraphState, d: Delta, edges: dict[str, tuple], parent: Any = None
) -> list[dict[str, Any]]:
    """The change as ``w``'s DuckDB part (see :mod:`hipporag.index.tables`); its ``db_parts``.

    ``parent`` is the generation ``state`` was loaded from (None: a build, the
    change holds every row).
    """
    change = table_change(state, d, edges, parent)
    return write_tables(w, change, live_after=live_after(state, edges), reuse=parent is not None)


def write_generation(
    w: IndexWriter,
    state: GraphState,
    d: Delta,
    config: IndexConfig,
    *,
    meta: dict[str, Any],
    extra_counts: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Commit ``state`` as ``w``'s generation; returns (path, counts).

    ``state`` must have been loaded from ``w``'s parent generation (or be empty).
    """
    edges = edges_of(state, config)
    E, P = state.n_entities, state.n_passages
    graph = CSRGraph.from_edges(
        E + P,
        np.concatenate([e[0] for e in edges.values()]),
        np.concatenate([e[1] for e in edges.values()]),
        np.concatenate([e[2] for e in edges.values()]),
    )
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
        "graph_nodes": graph.n_nodes,
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
    changed = _changed(d)
    base = state.base
    reuse = base is not None and w.base is not None
    if reuse and (w.base.get("generation") != base.generation or base.format_version != 2):
        raise RuntimeError("the state was not loaded from the writer's parent generation")
    db_parts = apply_to_db(w, state, d, edges, base if reuse else None)
    for group, names in GROUPS.items():
        for name in names:
            if reuse and not changed[group]:
                w.share(f"arrays/{name}.npy")
            else:
                w.write_array(name, arrays[name])
        logical = f"{HNSW_DIR}/{group}.bin"
        if reuse and not changed[group] and logical in w.base["files"]:
            w.share(logical)
        elif state.hnsw.get(group) is not None:
            w.save_hnsw(group, state.hnsw[group])
    for name, arr in (
        ("graph_indptr", graph.indptr),
        ("graph_indices", graph.indices),
        ("graph_weights", graph.weights),
    ):
        w.write_array(name, arr)
    path = w.commit({**meta, "counts": counts, "db_parts": db_parts})
    return path, counts


__all__ = ["GROUPS", "apply_to_db", "edges_of", "write_generation"]

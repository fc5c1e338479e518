"""Writing a changed :class:`~indexers.state.GraphState` as the next generation.

The tables get a new DuckDB part holding only what the change wrote (new
rows, new versions of entities whose ``n_passages`` changed, changed synonymy
edges) and tombstones for the rows it killed; the parent's parts are shared
(:mod:`indexers.dbchange`, :mod:`hipporag.index.parts`); ``edges`` is a view.
Arrays, HNSW segments and the graph are written as pieces by
:mod:`indexers.storage`, the lexical part and the passage store as segments
(:mod:`indexers.lexical`, :mod:`indexers.passagestore`): only what the change
added or changed.

Example:
    >>> from hipporag.config import IndexConfig
    >>> s = GraphState.empty(dim=2, synonymy_k=2)
    >>> sorted(edges_of(s, IndexConfig()))
    ['fact', 'passage_entity', 'synonymy']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.index import IndexWriter
from hipporag.index.parts import write_tables
from indexers.changes import Delta
from indexers.dbchange import live_after, table_change
from indexers.lexical import write_lexical
from indexers.passagestore import write_passage_store
from indexers.state import GraphState
from indexers.storage import write_columns, write_graph, write_segments


def edges_of(state: GraphState, config: IndexConfig) -> dict[str, tuple[np.ndarray, ...]]:
    from indexers.synonymy import SynonymyLists

    syn = SynonymyLists(state.syn_knn, state.syn_sim).edges(state.entity_names, state.e_vec)
    return {
        "fact": state.fact_edges(),
        "passage_entity": state.passage_entity_edges(config.graph.passage_entity_weight),
        "synonymy": syn,
    }


def apply_to_db(
    w: IndexWriter,
    state: GraphState,
    d: Delta,
    edges: dict[str, tuple],
    parent: Any = None,
    *,
    full: bool = False,
    passage_entity_weight: float = 1.0,
) -> list[dict[str, Any]]:
    """The change as ``w``'s DuckDB part (see :mod:`hipporag.index.tables`); its ``db_parts``.

    ``parent`` is the generation ``state`` was loaded from (None: a build, the
    change holds every row); ``full`` writes one fresh full part (a compaction).
    """
    return write_tables(
        w,
        table_change(state, d, edges, parent),
        live_after=live_after(state, edges),
        reuse=parent is not None,
        full=full,
        n_entity_rows=state.n_entities,
        passage_entity_weight=passage_entity_weight,
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
    ``rewrite`` writes every array, segment and the graph whole, and the tables
    as one full part (a compaction), with zeros for the vectors of deleted rows:
    nothing deleted stays on disk once the older generations are collected.
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
    if reuse and (w.base.get("generation") != base.generation or base.format_version < 2):
        raise RuntimeError("the state was not loaded from the writer's parent generation")
    weight = config.graph.passage_entity_weight
    db_parts = apply_to_db(
        w, state, d, edges, base if reuse else None, full=rewrite, passage_entity_weight=weight
    )
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
        "lexical": write_lexical(
            w, base if reuse else None, state.live_p, d.passages, d.passage_rows, rewrite=rewrite
        ),
        "passage_store": write_passage_store(
            w, base if reuse else None, state.live_p, d.passages, d.passage_rows, rewrite=rewrite
        ),
    }
    path = w.commit({**meta, **layout, "counts": counts, "db_parts": db_parts})
    return path, counts


__all__ = ["apply_to_db", "edges_of", "write_generation"]

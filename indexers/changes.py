"""Changes to a :class:`~indexers.state.GraphState`: add passages, delete passages.

Both keep the graph equal to a fresh build of the resulting corpus: a fact or
an entity exists exactly while some live passage supports it (provenance and
mention rows decide), fact-edge weights are recomputed from the provenance,
passage-entity edges follow the mentions, and the synonymy lists are updated
for the new and removed entities only (:mod:`indexers.synonymy`). Vectors are
needed only for the rows a change adds; deleted rows keep their row number
(tombstones); their vectors stay in the parent's files, and readers mark them
deleted in the HNSW segments.

Example:
    >>> from hipporag.types import Extraction, Passage, Triple
    >>> from indexers.state import GraphState, RowStore
    >>> s = GraphState.empty(dim=2, synonymy_k=3)
    >>> p = Passage.from_text("Paris", "Paris is in France.")
    >>> d = add_passages(s, [p], [Extraction(p.id, ["Paris"], [Triple("Paris", "in", "France")])])
    >>> s.entity_names, s.fact_text, d.texts
    (['france', 'paris'], ['(paris, in, france)'], ['Paris\\nParis is in France.', 'france', 'paris', '(paris, in, france)'])
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hipporag.config import GraphConfig
from hipporag.index.segments import SegmentedHNSW, plan_segments, segment_layout
from hipporag.text import fact_text
from hipporag.types import Extraction, Passage
from indexers.graph import normalize_extraction
from indexers.state import GraphState, RowStore
from indexers.synonymy import SynonymyLists


@dataclass
class Delta:
    """What one change did to the rows (for the database, the HNSW indexes and the report)."""

    passages: list[Passage] = field(default_factory=list)
    passage_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    new_entities: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    new_facts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dead_passages: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dead_entities: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dead_facts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    touched_entities: set[int] = field(default_factory=set)
    provenance_added: int = 0
    provenance_removed: int = 0
    mentions_added: int = 0
    mentions_removed: int = 0
    stats: Counter = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)
    e_rows_before: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "added": {
                "passages": len(self.passages),
                "entities": int(self.new_entities.shape[0]),
                "facts": int(self.new_facts.shape[0]),
                "fact_provenance": self.provenance_added,
                "mentions": self.mentions_added,
            },
            "removed": {
                "passages": int(self.dead_passages.shape[0]),
                "entities": int(self.dead_entities.shape[0]),
                "facts": int(self.dead_facts.shape[0]),
                "fact_provenance": self.provenance_removed,
                "mentions": self.mentions_removed,
            },
        }


def add_passages(
    state: GraphState, passages: Sequence[Passage], extractions: Sequence[Extraction]
) -> Delta:
    """Append passages and what they mention; ``Delta.texts`` lists the texts to embed.

    The texts are: the new passages' contents, then the names of new entities,
    then the texts of new facts (an existing entity or fact is not embedded again).
    """
    d = Delta(passages=list(passages), e_rows_before=state.n_entities)
    d.stats.update(skipped_triples=0, empty_arguments=0, passages_without_triples=0)
    per = [
        normalize_extraction(p, ex, d.stats) for p, ex in zip(passages, extractions, strict=True)
    ]
    d.stats["passages_without_triples"] = sum(1 for _, f in per if not f)
    e_idx = {n: i for i, n in enumerate(state.entity_names) if state.live_e[i]}
    new_names = sorted({n for names, _ in per for n in names} - e_idx.keys())
    first_e = state.n_entities
    for n in new_names:
        e_idx[n] = len(state.entity_names)
        state.entity_names.append(n)
    f_idx = {
        (int(s), r, int(o)): i
        for i, (s, r, o) in enumerate(
            zip(state.fact_subject, state.fact_relation, state.fact_object, strict=True)
        )
        if state.live_f[i]
    }
    new_keys = sorted({(e_idx[s], r, e_idx[o]) for _, f in per for s, r, o in f} - f_idx.keys())
    first_f = state.n_facts
    for key in new_keys:
        f_idx[key] = len(state.fact_text)
        state.fact_relation.append(key[1])
        state.fact_text.append(
            fact_text(state.entity_names[key[0]], key[1], state.entity_names[key[2]])
        )
    if new_keys:
        keys = np.array([(k[0], k[2]) for k in new_keys], dtype=np.int32)
        state.fact_subject = np.concatenate([state.fact_subject, keys[:, 0]])
        state.fact_object = np.concatenate([state.fact_object, keys[:, 1]])
    first_p = state.n_passages
    state.passage_ids.extend(p.id for p in passages)
    state.passage_docs.extend(p.doc_id for p in passages)
    state.grow()
    men: list[tuple[int, int, int]] = []
    prov_f: list[int] = []  # (fact, passage) pairs, deduplicated below
    prov_p: list[int] = []
    for j, (names, facts) in enumerate(per):
        pi = first_p + j
        men.extend((e_idx[n], pi, c) for n, c in sorted(names.items()))
        prov_f.extend(f_idx[(e_idx[s], r, e_idx[o])] for s, r, o in facts)
        prov_p.extend([pi] * len(facts))
    men_arr = np.array(men, dtype=np.int64).reshape(-1, 3)
    state.e_npass += np.bincount(men_arr[:, 0], minlength=state.e_npass.shape[0])
    d.touched_entities.update(np.unique(men_arr[:, 0]).tolist())
    width = state.n_passages + 1  # (fact, passage) as one sortable int64
    pairs = np.unique(np.asarray(prov_f, np.int64) * width + np.asarray(prov_p, np.int64))
    prov_arr = np.stack([pairs // width, pairs % width], axis=1).reshape(-1, 2)
    state.provenance = np.concatenate([state.provenance, prov_arr])
    state.mentions = np.concatenate([state.mentions, men_arr])
    d.provenance_added, d.mentions_added = prov_arr.shape[0], men_arr.shape[0]
    d.passage_rows = np.arange(first_p, state.n_passages, dtype=np.int64)
    d.new_entities = np.arange(first_e, state.n_entities, dtype=np.int64)
    d.new_facts = np.arange(first_f, state.n_facts, dtype=np.int64)
    d.texts = (
        [p.content for p in passages]
        + [state.entity_names[i] for i in d.new_entities]
        + [state.fact_text[i] for i in d.new_facts]
    )
    return d


def set_vectors(state: GraphState, d: Delta, vectors: np.ndarray) -> None:
    """Store the vectors of ``Delta.texts`` (same order) in the new rows."""
    P, E = d.passage_rows.shape[0], d.new_entities.shape[0]
    if vectors.shape[0] != len(d.texts):
        raise ValueError(f"expected {len(d.texts)} vectors, got {vectors.shape[0]}")
    if vectors.shape[0] and state.p_vec.shape[1] != vectors.shape[1]:
        if state.n_passages == P and state.n_entities == E:  # a build fixes the dimension
            state.dim = int(vectors.shape[1])
            state.p_vec = RowStore.zeros(state.n_passages, state.dim)
            state.e_vec = RowStore.zeros(state.n_entities, state.dim)
            state.f_vec = RowStore.zeros(state.n_facts, state.dim)
        else:
            raise ValueError(f"vectors of dim {vectors.shape[1]}, index dim {state.dim}")
    state.p_vec[d.passage_rows] = vectors[:P]
    state.e_vec[d.new_entities] = vectors[P : P + E]
    state.f_vec[d.new_facts] = vectors[P + E :]


def delete_rows(state: GraphState, rows: np.ndarray) -> Delta:
    """Delete passage rows; facts and entities no live passage supports go with them."""
    d = Delta(e_rows_before=state.n_entities)
    rows = np.unique(rows[state.live_p[rows]]).astype(np.int64)
    d.dead_passages = rows
    if rows.shape[0] == 0:
        return d
    state.live_p[rows] = False
    gone_p = np.isin(state.provenance[:, 1], rows)
    gone_m = np.isin(state.mentions[:, 1], rows)
    d.provenance_removed, d.mentions_removed = int(gone_p.sum()), int(gone_m.sum())
    cand_f = np.unique(state.provenance[gone_p, 0])
    state.provenance = state.provenance[~gone_p]
    removed_m = state.mentions[gone_m]
    state.mentions = state.mentions[~gone_m]
    np.subtract.at(state.e_npass, removed_m[:, 0], 1)
    d.touched_entities.update(removed_m[:, 0].tolist())
    d.dead_facts = cand_f[~np.isin(cand_f, state.provenance[:, 0])]
    state.live_f[d.dead_facts] = False
    cand_e = np.unique(removed_m[:, 0])
    d.dead_entities = cand_e[state.e_npass[cand_e] == 0]
    state.live_e[d.dead_entities] = False
    d.touched_entities.difference_update(d.dead_entities.tolist())
    return d


def merge(a: Delta, b: Delta) -> Delta:
    """One delta for a delete ``a`` followed by an insert ``b`` (an update)."""
    b.dead_passages, b.dead_entities, b.dead_facts = a.dead_passages, a.dead_entities, a.dead_facts
    b.provenance_removed, b.mentions_removed = a.provenance_removed, a.mentions_removed
    b.touched_entities |= a.touched_entities
    b.e_rows_before = a.e_rows_before
    return b


def _parent_segments(state: GraphState, table: str) -> list[Any]:
    """The parent's segments of ``table`` (none for a build or a version-1 parent)."""
    base = state.base
    if base is None or base.format_version < 2:
        return []
    return segment_layout(base.meta, table)


def update_search(
    state: GraphState, d: Delta, config: GraphConfig, *, rebuild: bool = False
) -> None:
    """HNSW segments and synonymy lists after a change (adds and deletes in ``d``).

    Per table, the merge policy (:func:`hipporag.index.segments.plan_segments`)
    decides how many of the parent's segments stay; one new segment indexes
    the live rows after them (the new rows, and those of merged segments).
    The plan is kept in ``state.search_plan`` for the commit. The synonymy
    lists are then updated against all live entities (kept segments + new).
    ``rebuild`` keeps no segment (a compaction).
    """
    from hipporag.index.hnsw import new_hnsw

    ent_parts: list[Any] = []
    for name, vec, live in (
        ("passages", state.p_vec, state.live_p),
        ("entities", state.e_vec, state.live_e),
        ("facts", state.f_vec, state.live_f),
    ):
        segs = [] if rebuild else _parent_segments(state, name)
        n = live.shape[0]
        n_before = segs[-1].stop if segs else 0
        keep = plan_segments(segs, live, new_rows=n - n_before)
        start = segs[keep].start if keep < len(segs) else n_before
        rows = start + np.flatnonzero(live[start:n])
        index = None
        if rows.shape[0]:
            index = new_hnsw(state.dim, rows.shape[0], config.hnsw_m, config.hnsw_ef_construction)
            index.add_items(np.ascontiguousarray(vec[rows]), rows, num_threads=config.hnsw_workers)
            index.set_ef(config.hnsw_ef_search)
        state.search_plan[name] = (keep, start, index, int(rows.shape[0]))
        if name == "entities":
            if keep and state.base is not None:
                loaded = state.base.hnsw_segments("entities")[:keep]
                for r in d.dead_entities.tolist():
                    for _, h in loaded:
                        with contextlib.suppress(RuntimeError):  # not in this segment
                            h.mark_deleted(int(r))
                ent_parts = [(h, int(live[seg.start : seg.stop].sum())) for seg, h in loaded]
            if index is not None:
                ent_parts.append((index, int(rows.shape[0])))
    h = SegmentedHNSW([p[0] for p in ent_parts], [p[1] for p in ent_parts]) if ent_parts else None
    state.hnsw["entities"] = h
    lists = SynonymyLists(state.syn_knn, state.syn_sim)
    kw = {"threshold": config.synonymy_threshold, "ef": config.hnsw_ef_search}
    kw["threads"] = config.hnsw_workers
    lists.remove(h, state.e_vec, state.entity_names, state.live_e, d.dead_entities, **kw)
    lists.add(h, state.e_vec, state.entity_names, state.live_e, d.new_entities, **kw)
    state.syn_knn, state.syn_sim = lists.knn, lists.sim
    if h is not None:
        h.set_ef(config.hnsw_ef_search)


__all__ = ["Delta", "add_passages", "delete_rows", "merge", "set_vectors", "update_search"]

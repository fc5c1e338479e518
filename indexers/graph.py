"""From extractions to a knowledge graph: entities, facts, provenance and edges.

Entity mentions are normalised (:func:`hipporag.text.normalize_entity`), so
"Paris", "PARIS" and "Paris," are one node. A fact is a distinct
(subject, relation, object) of normalised parts; its provenance records every
passage that produced it. Edges:

* ``fact``: subject - object, one edge per entity pair, weight = number of
  (fact, passage) records between the pair (no parallel duplicates);
* ``passage_entity``: passage - each entity it mentions;
* ``synonymy``: entity - entity with embedding cosine >= threshold, found
  among each entity's k nearest neighbours with HNSW (never all-vs-all).

Example:
    >>> from hipporag.types import Extraction, Passage, Triple
    >>> p = Passage.from_text("Paris", "Paris is in France.")
    >>> kg = assemble_kg([p], [Extraction(p.id, ["Paris"], [Triple("Paris", "in", "France")])])
    >>> kg.entity_names, kg.fact_text
    (['france', 'paris'], ['(paris, in, france)'])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hipporag.config import GraphConfig
from hipporag.errors import InputError
from hipporag.text import fact_text, normalize_entity, normalize_text
from hipporag.types import Extraction, Passage


@dataclass
class KnowledgeGraph:
    """The assembled graph as column arrays, ready to be written as tables."""

    entity_names: list[str]
    entity_n_passages: np.ndarray
    fact_subject: np.ndarray
    fact_relation: list[str]
    fact_object: np.ndarray
    fact_text: list[str]
    provenance: np.ndarray  # [N, 2] (fact_idx, passage_idx)
    mentions: np.ndarray  # [M, 3] (entity_idx, passage_idx, n)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def n_entities(self) -> int:
        return len(self.entity_names)

    def fact_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, weight) entity-entity edges, src < dst, merged over facts."""
        if self.provenance.shape[0] == 0:
            return _empty_edges()
        f = self.provenance[:, 0]
        a, b = self.fact_subject[f], self.fact_object[f]
        keep = a != b
        lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        pairs, counts = np.unique(np.stack([lo, hi], 1), axis=0, return_counts=True)
        if pairs.shape[0] == 0:
            return _empty_edges()
        return pairs[:, 0], pairs[:, 1], counts.astype(np.float64)

    def passage_entity_edges(self, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entity node, passage node, weight) edges."""
        ent = self.mentions[:, 0].astype(np.int64)
        node = self.mentions[:, 1].astype(np.int64) + self.n_entities
        return ent, node, np.full(ent.shape[0], weight, dtype=np.float64)


def _empty_edges() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)


# Names and relations repeat across passages (a few common ones in most of them): a
# bounded memo of their normal forms saves most of the normalisation work of a build.
_entity_form = lru_cache(maxsize=1 << 17)(normalize_entity)


@lru_cache(maxsize=1 << 14)
def _relation_form(relation: str) -> str:
    return normalize_text(relation).casefold()


def normalize_extraction(
    passage: Passage, ex: Extraction, stats: Counter
) -> tuple[Counter, list[tuple[str, str, str]]]:
    """One passage's normalised entity mention counts and (subject, relation, object) facts.

    Counts skipped triples and triples with an empty argument into ``stats``.
    """
    if ex.passage_id != passage.id:
        raise InputError(
            f"extraction for {ex.passage_id} given for passage {passage.id}",
            hint="keep extractions in passage order",
        )
    stats["skipped_triples"] += ex.skipped
    names: Counter = Counter()
    for e in ex.entities:
        n = _entity_form(e)
        if n:
            names[n] += 1
    facts = []
    for t in ex.triples:
        s, o = _entity_form(t.subject), _entity_form(t.object)
        r = _relation_form(t.relation)
        if not s or not o or not r:
            stats["empty_arguments"] += 1
            continue
        names[s] += 1
        names[o] += 1
        facts.append((s, r, o))
    return names, facts


def assemble_kg(passages: Sequence[Passage], extractions: Sequence[Extraction]) -> KnowledgeGraph:
    """Merge per-passage extractions into one graph. Deterministic for the same input."""
    if len(passages) != len(extractions):
        raise InputError(
            f"{len(passages)} passages but {len(extractions)} extractions",
            hint="an extractor must return one Extraction per passage",
        )
    stats = Counter(skipped_triples=0, empty_arguments=0)
    per_passage: list[tuple[Counter, list[tuple[str, str, str]]]] = []
    for p, ex in zip(passages, extractions, strict=True):
        names, facts = normalize_extraction(p, ex, stats)
        per_passage.append((names, facts))

    entity_names = sorted({n for names, _ in per_passage for n in names})
    e_idx = {n: i for i, n in enumerate(entity_names)}
    fact_keys = sorted({(e_idx[s], r, e_idx[o]) for _, facts in per_passage for s, r, o in facts})
    f_idx = {k: i for i, k in enumerate(fact_keys)}
    prov: set[tuple[int, int]] = set()
    mention_rows: list[tuple[int, int, int]] = []
    n_pass = np.zeros(len(entity_names), dtype=np.int32)
    for pi, (names, facts) in enumerate(per_passage):
        for n, c in sorted(names.items()):
            ei = e_idx[n]
            mention_rows.append((ei, pi, c))
            n_pass[ei] += 1
        for s, r, o in facts:
            prov.add((f_idx[(e_idx[s], r, e_idx[o])], pi))
    provenance = np.array(sorted(prov), dtype=np.int64).reshape(-1, 2)
    mentions = np.array(mention_rows, dtype=np.int64).reshape(-1, 3)
    stats["passages_without_triples"] = sum(1 for _, f in per_passage if not f)
    return KnowledgeGraph(
        entity_names=entity_names,
        entity_n_passages=n_pass,
        fact_subject=np.array([k[0] for k in fact_keys], dtype=np.int32),
        fact_relation=[k[1] for k in fact_keys],
        fact_object=np.array([k[2] for k in fact_keys], dtype=np.int32),
        fact_text=[fact_text(entity_names[s], r, entity_names[o]) for s, r, o in fact_keys],
        provenance=provenance,
        mentions=mentions,
        stats=dict(stats),
    )


def synonymy_edges(
    names: Sequence[str], vectors: np.ndarray, config: GraphConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entity pairs with cosine >= threshold among HNSW k-nearest neighbours.

    The same computation as a build's (:class:`indexers.synonymy.SynonymyLists`),
    on a temporary HNSW index. Returns (src, dst, cosine) with src < dst.
    """
    from hipporag.index.hnsw import new_hnsw
    from indexers.synonymy import SynonymyLists

    n = len(names)
    if n < 2:
        return _empty_edges()
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    index = new_hnsw(vecs.shape[1], n, config.hnsw_m, config.hnsw_ef_construction)
    index.add_items(vecs, np.arange(n), num_threads=config.hnsw_workers)
    lists = SynonymyLists.empty(n, config.synonymy_k)
    lists.add(
        index,
        vecs,
        names,
        np.ones(n, dtype=bool),
        np.arange(n),
        threshold=config.synonymy_threshold,
        ef=config.hnsw_ef_search,
        threads=config.hnsw_workers,
    )
    return lists.edges(names, vecs)


__all__ = ["KnowledgeGraph", "assemble_kg", "normalize_extraction", "synonymy_edges"]

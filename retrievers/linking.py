"""Seed linking: which entity nodes a query starts its random walk from.

Two published styles:

* :class:`NERLinker` -- HippoRAG 1. Named entities of the query (spaCy; noun
  chunks when there are none), normalised like index entities, each linked to
  its ``link_k`` nearest entity nodes through the entity HNSW. Seed weight is
  the node specificity ``1 / n_passages`` (passages mentioning the entity).
* :class:`FactLinker` -- HippoRAG 2. The query vector is matched against fact
  embeddings through the fact HNSW; the ``top_facts`` best facts (optionally
  filtered by an LLM, :mod:`retrievers.recognition`) give their subject and
  object as seeds with weight ``fact score / n_passages``. HippoRAG 2 min-max
  normalises fact scores over *all* facts, which needs a full scan; we use the
  HNSW cosine (same recall on musique100 within 0.01, see docs/bench_retrieval.md).

Example:
    >>> from hipporag.embedders import make_embedder
    >>> from hipporag.index import Index
    >>> idx = Index.open(DEMO_INDEX)
    >>> question = "Who directed the film that won the Golden Heron Award in 1987?"
    >>> qvec = make_embedder(idx.config.embedding).encode_query(question)
    >>> link = FactLinker(idx, top_facts=5).link(question, qvec)
    >>> link.seeds[0].node, link.seeds[0].kind, len(link.facts)
    ('golden heron award', 'entity', 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hipporag.lang import UNDETERMINED, detect_language
from hipporag.models import load_spacy
from hipporag.names import capitalised_runs, find_names, is_uncased, match_key
from hipporag.protocols import Embedder, IndexView
from hipporag.text import normalize_entity
from hipporag.types import Seed
from retrievers.order import stable_knn
from retrievers.recognition import RecognitionFilter

# Entity labels that are not useful seeds (numbers and amounts), as in the spaCy indexer.
SKIP_LABELS = frozenset({"CARDINAL", "ORDINAL", "PERCENT", "QUANTITY", "MONEY", "TIME"})
_QUESTION_WORDS = frozenset({"who", "what", "which", "when", "where", "why", "how", "whom"})


@dataclass(slots=True)
class Linking:
    """The entity seeds of one query.

    Attributes:
        weights: ``entity_idx -> reset weight`` (not normalised).
        seeds: The same seeds for explanations (names, weights, why), strongest first.
        flags: e.g. ``"llm_filter_failed"``, ``"no_facts_after_filter"``, ``"no_mentions"``.
        facts: ``fact_idx`` of the facts that produced seeds (fact linking only).
    """

    weights: dict[int, float] = field(default_factory=dict)
    seeds: list[Seed] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    facts: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.weights


def _n_passages(index: IndexView) -> np.ndarray:
    return np.maximum(np.asarray(index.entity_passage_counts(), dtype=np.float64), 1.0)


def _seeds(weights: dict[int, float], names: Sequence[str], why: dict[int, str]) -> list[Seed]:
    order = sorted(weights, key=lambda e: (-round(weights[e], 12), names[e]))
    return [Seed(names[e], "entity", float(weights[e]), why.get(e, "")) for e in order]


class FactLinker:
    """HippoRAG 2 seeds: the facts nearest to the query give their subject and object.

    Args:
        index: An open index.
        top_facts: Facts used as seed sources (HippoRAG 2: 5).
        recognition: Optional LLM filter applied to the ``top_facts`` candidates.

    Example:
        >>> from hipporag.embedders import make_embedder
        >>> from hipporag.index import Index
        >>> idx = Index.open(DEMO_INDEX)
        >>> qvec = make_embedder(idx.config.embedding).encode_query("Who directed Salt Harbour?")
        >>> facts = FactLinker(idx).link("Who directed Salt Harbour?", qvec).facts
        >>> len(facts), all(0 <= f < idx.n_facts for f in facts)
        (5, True)
    """

    def __init__(
        self, index: IndexView, top_facts: int = 5, recognition: RecognitionFilter | None = None
    ) -> None:
        self.index = index
        self.top_facts = top_facts
        self.recognition = recognition
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            subj, obj = self.index.fact_endpoints()
            self._arrays = (subj, obj, _n_passages(self.index))
        return self._arrays

    def triple(self, fact: int) -> tuple[str, str, str]:
        """(subject, relation, object) names of a fact."""
        subj, obj, _ = self._load()
        names = self.index.entity_names
        return (names[subj[fact]], self.index.fact_relations()[fact], names[obj[fact]])

    def candidates(self, qvec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` facts most similar to the query: (``fact_idx``, cosine), best first."""
        if n <= 0 or self.index.n_facts == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return stable_knn(self.index, "facts", qvec, n)

    def link(self, query: str, qvec: np.ndarray) -> Linking:
        """Seeds of ``query`` (``qvec`` is its embedding)."""
        out = Linking()
        facts, scores = self.candidates(qvec, self.top_facts)
        if facts.size == 0:
            out.flags.append("no_facts")
            return out
        if self.recognition is not None:
            outcome = self.recognition.filter(query, [self.triple(int(f)) for f in facts])
            if outcome.failed:
                out.flags.append("llm_filter_failed")
                out.flags.append(f"llm_error: {outcome.error}")
            else:
                keep = np.asarray(outcome.kept, dtype=np.int64)
                facts, scores = facts[keep], scores[keep]
                if facts.size == 0:
                    out.flags.append("no_facts_after_filter")
                    return out
        subj, obj, n_pass = self._load()
        why: dict[int, str] = {}
        for f, s in zip(facts.tolist(), scores.tolist(), strict=True):
            for e in (int(subj[f]), int(obj[f])):
                out.weights[e] = out.weights.get(e, 0.0) + max(float(s), 0.0) / n_pass[e]
                why.setdefault(e, "fact " + "(" + ", ".join(self.triple(f)) + f") cos={s:.3f}")
        out.weights = {e: w for e, w in out.weights.items() if w > 0}
        out.facts = facts.tolist()
        out.seeds = _seeds(out.weights, self.index.entity_names, why)
        return out


class NERLinker:
    """HippoRAG 1 seeds: query entities (spaCy NER) linked to their nearest entity nodes.

    Args:
        index: An open index.
        embedder: Encodes the mentions (the model the index's entities were embedded with).
        spacy_model: spaCy pipeline for NER.
        link_k: Entity nodes linked per mention (HippoRAG 1: 1).

    Example:
        >>> from hipporag.embedders import make_embedder
        >>> from hipporag.index import Index
        >>> idx = Index.open(DEMO_INDEX)
        >>> embedder = make_embedder(idx.config.embedding)
        >>> linker = NERLinker(idx, embedder, idx.config.openie.spacy_model)
        >>> linker.mentions("Who directed the film Salt Harbour in 1987?")
        ['salt harbour', '1987']
        >>> linker.link("Who directed the film Salt Harbour in 1987?").seeds[0].node
        'salt harbour'
        >>> linker.mentions("Кто снял фильм Солёная Гавань в 1987 году?")
        ['солёная гавань']
    """

    def __init__(
        self,
        index: IndexView,
        embedder: Embedder,
        spacy_model: str,
        link_k: int = 1,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.spacy_model = spacy_model
        self.link_k = link_k
        self._nlp: Any = None
        self._unspaced: dict[str, str] | None = None

    def mentions(self, query: str) -> list[str]:
        """Normalised entity mentions of the query, in order, without duplicates.

        A query in another language than the spaCy pipeline's is not parsed by
        it (an English parser finds junk in Russian or Chinese): its mentions
        are its capitalised word runs and the index's entity names written in
        it without spaces (Chinese, Japanese), see :mod:`hipporag.names`.
        """
        if self._nlp is None:
            self._nlp = load_spacy(self.spacy_model)
        lang = detect_language(query)
        if lang not in (UNDETERMINED, self._nlp.lang) and self._nlp.lang != "xx":
            found = self._script_mentions(query)
        else:
            found = self._spacy_mentions(query)
        out: list[str] = []
        for text in found:
            name = normalize_entity(text)
            if name and name not in out:
                out.append(name)
        return out

    def _script_mentions(self, query: str) -> list[str]:
        if self._unspaced is None:
            self._unspaced = {
                match_key(n): n for n in self.index.entity_names if any(map(is_uncased, n))
            }
        names = [self._unspaced[k] for k in find_names(match_key(query), self._unspaced)]
        return names + capitalised_runs(query)

    def _spacy_mentions(self, query: str) -> list[str]:
        doc = self._nlp(query)
        found = [e.text for e in doc.ents if e.label_ not in SKIP_LABELS]
        if not found:
            found = [
                c.text
                for c in doc.noun_chunks
                if c.root.pos_ != "PRON" and c.root.lower_ not in _QUESTION_WORDS
            ]
        return found

    def link(self, query: str, qvec: np.ndarray | None = None) -> Linking:
        """Seeds of ``query`` (``qvec`` is unused; accepted for a uniform interface)."""
        out = Linking()
        mentions = self.mentions(query)
        n_entities = self.index.n_entities
        if not mentions or n_entities == 0:
            out.flags.append("no_mentions" if not mentions else "no_entities")
            return out
        vecs = np.asarray(self.embedder.encode(mentions), dtype=np.float32)
        n_pass = _n_passages(self.index)
        why: dict[int, str] = {}
        for m, vec in zip(mentions, vecs, strict=True):
            for e, cos in self._nearest(m, vec):
                out.weights[int(e)] = 1.0 / n_pass[e]  # node specificity, as HippoRAG 1
                why.setdefault(int(e), f"query mention '{m}' cos={cos:.3f}")
        out.seeds = _seeds(out.weights, self.index.entity_names, why)
        return out

    def _nearest(self, mention: str, vec: np.ndarray) -> list[tuple[int, float]]:
        """The ``link_k`` entities nearest to a mention; its exact name first among ties.

        Ties are broken by name (:func:`retrievers.order.stable_knn`), except that an
        entity named exactly as the mention wins a tie: ``imre valkó`` links to
        ``imre valkó`` although ``imre valko`` has the same vector.
        """
        idxs, sims = stable_knn(self.index, "entities", vec, self.link_k + 1)
        found = list(zip(idxs.tolist(), sims.tolist(), strict=True))
        names = self.index.entity_names
        exact = [i for i, (e, s) in enumerate(found) if names[e] == mention]
        if exact and round(found[exact[0]][1], 6) >= round(found[0][1], 6):
            found.insert(0, found.pop(exact[0]))
        return [(int(e), float(s)) for e, s in found[: self.link_k]]


__all__ = ["SKIP_LABELS", "FactLinker", "Linking", "NERLinker"]

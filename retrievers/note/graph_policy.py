"""The LLM-free note policy: a note is a set of passages and the facts they hold.

* **first note**: the first retrieval's passages, their facts and entities.
  Question entities are the entities named in the question (plus the
  retriever's entity seeds); every other entity of the note is a candidate
  *bridge*, ranked by its Personalized PageRank mass from the question entities.
* **next query**: the question plus the strongest bridges not asked about yet
  (``bridges_per_query`` of them). With no bridge left: the question again when
  the loop excludes seen passages (it then pages deeper), else ``None``.
* **refine**: add the new passages that *connect*: they hold a new fact touching
  a question entity or a known bridge, or at least mention one.
* **judge**: accept when the evidence gain reaches ``judge_threshold``. The gain
  sums, over the added passages' new facts, 1 for a fact touching a question
  entity and ``bridge_weight`` for one touching only a known bridge; a passage
  that only mentions one counts ``mention_weight``. Known bridges are the best
  note's ``judge_bridges`` strongest bridges.

The note's PPR seeds are its strongest bridges (weight relative to the
strongest). See docs/note_loop.md for measured failure modes.

Example:
    >>> from pipelines.facade import HippoRAG
    >>> from retrievers.note.config import NoteConfig
    >>> from retrievers.note.graph_view import IndexGraphView
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> question = "Who directed the film that won the Golden Heron Award in 1987?"
    >>> hits = rag.retrieve(question, k=5).hits
    >>> policy = GraphNotePolicy(IndexGraphView(rag.index), NoteConfig())
    >>> note = policy.first_note(question, hits, Meter())
    >>> query = policy.next_query(question, note, [question], Meter())
    >>> query.startswith(question), "salt harbour" in query
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hipporag.types import Hit
from retrievers.explain import SparseScores
from retrievers.note.config import NoteConfig
from retrievers.note.graph_view import (
    Fact,
    IndexGraphView,
    contains_name,
    is_date_like,
    match_key,
)
from retrievers.note.policy import Meter, Note, Verdict

_MAX_RINGS = 3


class GraphNotePolicy:
    """Notes from the knowledge graph, with no LLM.

    Args:
        view: Entity, fact and PPR lookups on the index.
        config: ``bridges_per_query``, ``judge_threshold``, ``bridge_weight``,
            ``mention_weight``, ``judge_bridges`` and ``max_note_seeds`` are used.

    Stateless between calls (per-question data travels in the note), so one
    policy can serve many threads.

    Example:
        >>> from hipporag.index import Index
        >>> from retrievers.note.graph_view import IndexGraphView
        >>> policy = GraphNotePolicy(IndexGraphView(Index.open(DEMO_INDEX)))
        >>> policy.name
        'graph'
    """

    name = "graph"

    def __init__(self, view: IndexGraphView, config: NoteConfig | None = None) -> None:
        self.view = view
        self.config = config or NoteConfig()

    # -- the four roles --------------------------------------------------------------
    def first_note(self, question: str, hits: Sequence[Hit], meter: Meter) -> Note:
        q_ents = self.view.question_entities(question, hits)
        return self._note(question, q_ents, [h.passage_id for h in hits])

    def next_query(
        self, question: str, note: Note, queries: Sequence[str], meter: Meter
    ) -> str | None:
        asked = [match_key(q) for q in queries]
        fresh: list[str] = []
        for e in note.context.get("bridges", ()):
            name = self.view.names[e]
            key = match_key(name)
            if key and not any(contains_name(q, key) for q in asked) and name not in fresh:
                fresh.append(name)
            if len(fresh) >= self.config.bridges_per_query:
                break
        if fresh:
            return f"{question} {'; '.join(fresh)}"
        # No bridge left: ask the question again, which pages to the next unseen
        # passages when the loop excludes seen ones (else there is nothing to ask).
        return question if self.config.exclude_seen else None

    def refine(self, question: str, note: Note, hits: Sequence[Hit], meter: Meter) -> Note:
        gains = self._gains(note, [h.passage_id for h in hits])
        keep = [pid for pid, g in gains.items() if g["gain"] > 0]
        if not keep:
            return note
        return self._note(question, note.context.get("q_ents", {}), [*note.passage_ids, *keep])

    def judge(self, question: str, best: Note, candidate: Note, meter: Meter) -> Verdict:
        added = [p for p in candidate.passage_ids if p not in set(best.passage_ids)]
        gains = self._gains(best, added)
        gain = sum(g["gain"] for g in gains.values())
        n_facts = sum(g["facts"] for g in gains.values())
        n_mention = sum(1 for g in gains.values() if g["facts"] == 0 and g["gain"] > 0)
        threshold = self.config.judge_threshold
        ok = gain >= threshold and gain > 0
        reason = (
            f"{len(added)} connected passage(s), {n_facts} new fact(s) touching the question "
            f"or a known bridge, {n_mention} mention-only: gain {gain:.2f} "
            f"{'>=' if ok else '<'} threshold {threshold:g}"
        )
        return Verdict(ok, reason, score=gain)

    # -- internals -------------------------------------------------------------------
    def _anchors(self, note: Note) -> dict[int, float]:
        """Question entities (weight 1) and the note's known bridges (``bridge_weight``)."""
        out = {e: 1.0 for e in note.context.get("q_ents", {})}
        for e in list(note.context.get("bridges", ()))[: self.config.judge_bridges]:
            out.setdefault(e, self.config.bridge_weight)
        return out

    def _gains(self, note: Note, pids: Sequence[str]) -> dict[str, dict[str, float]]:
        """Evidence gain of each passage relative to ``note``."""
        anchors = self._anchors(note)
        known: frozenset[int] = note.context.get("fact_idxs", frozenset())
        facts = self.view.passage_facts(pids)
        ents = self.view.passage_entities(pids)
        out: dict[str, dict[str, float]] = {}
        for pid in pids:
            gain, n = 0.0, 0
            for f in facts[pid]:
                w = max(anchors.get(f.subject, 0.0), anchors.get(f.object, 0.0))
                if f.idx not in known and w > 0:
                    gain, n = gain + w, n + 1
            if n == 0:
                gain = self.config.mention_weight * max(
                    (anchors.get(e, 0.0) for e in ents[pid]), default=0.0
                )
            out[pid] = {"gain": gain, "facts": float(n)}
        return out

    def _note(self, question: str, q_ents: Mapping[int, float], pids: Sequence[str]) -> Note:
        view, cfg = self.view, self.config
        pids = list(dict.fromkeys(pids))
        facts_by_p = view.passage_facts(pids)
        ents_by_p = view.passage_entities(pids)
        seeds = dict(q_ents) if q_ents else view.passage_nodes(pids)
        mass = view.entity_mass(seeds)
        bridges, chain = self._chain(question, q_ents, pids, facts_by_p, ents_by_p, mass)
        top = bridges[: cfg.max_note_seeds]
        peak = max((float(mass[e]) for e in top), default=0.0)
        note_seeds = {e: max(float(mass[e]) / peak, 0.1) for e in top} if peak > 0 else {}
        names = [view.names[e] for e in [*q_ents, *bridges]]
        context: dict[str, Any] = {
            "q_ents": dict(q_ents),
            "bridges": tuple(bridges),
            "fact_idxs": frozenset(f.idx for p in pids for f in facts_by_p[p]),
        }
        text = self._render(q_ents, bridges, chain, pids)
        return Note(
            text, tuple(pids), tuple(f.text for f in chain), tuple(names), note_seeds, context
        )

    def _chain(
        self,
        question: str,
        q_ents: Mapping[int, float],
        pids: Sequence[str],
        facts_by_p: Mapping[str, Sequence[Fact]],
        ents_by_p: Mapping[str, Sequence[int]],
        mass: SparseScores,
    ) -> tuple[list[int], list[Fact]]:
        """Bridges and the facts that reach them, ring by ring from the question entities.

        Ring 1 holds the entities that share a fact with a question entity in a
        passage mentioning one; ring 2 those sharing a fact with ring 1, and so
        on. Only proper names qualify: dates, numbers, lower-case common nouns
        ("opera", "maker"), generic hubs and names in the question are never
        bridges. Within a ring, bridges are ordered by PPR mass.
        """
        q_norm = match_key(question)
        anchors = set(q_ents)
        bridges: list[int] = []
        chain: list[Fact] = []
        used: set[int] = set()
        for _ in range(_MAX_RINGS):
            ring: dict[int, None] = {}
            for pid in pids:
                if not anchors & set(ents_by_p[pid]) and not any(
                    f.subject in anchors or f.object in anchors for f in facts_by_p[pid]
                ):
                    continue
                for f in facts_by_p[pid]:
                    if f.idx in used or not ({f.subject, f.object} & anchors):
                        continue
                    used.add(f.idx)
                    chain.append(f)
                    for e in (f.subject, f.object):
                        if e not in anchors and self._bridgeable(e, q_norm, pids):
                            ring[e] = None
            if not ring:
                break
            bridges.extend(sorted(ring, key=lambda e: -mass[e]))
            anchors |= set(ring)
        return bridges, chain

    def _bridgeable(self, entity: int, q_norm: str, pids: Sequence[str]) -> bool:
        """A proper name (not a date, number, common noun or generic hub) absent from the question."""
        name = match_key(self.view.names[entity])
        return (
            bool(name)
            and not is_date_like(name)
            and not contains_name(q_norm, name)
            and not self.view.is_generic(entity)
            and self.view.is_named(entity, pids) is not False
        )

    def _render(
        self,
        q_ents: Mapping[int, float],
        bridges: Sequence[int],
        facts: Sequence[Fact],
        pids: Sequence[str],
    ) -> str:
        names = self.view.names
        lines = [
            "question entities: " + (", ".join(names[e] for e in q_ents) or "-"),
            "bridges: " + (", ".join(names[e] for e in bridges[:5]) or "-"),
            "facts:",
        ]
        lines.extend(f"- {f.text}" for f in facts[:30])
        if len(facts) > 30:
            lines.append(f"- ... {len(facts) - 30} more")
        lines.append(f"passages: {len(pids)}")
        return "\n".join(lines)


__all__ = ["GraphNotePolicy"]

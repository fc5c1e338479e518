"""Read-only lookups on an index that the note policies need.

Entities and facts of passages, question entities, entity mass under
Personalized PageRank, and entities named in a text. Results of the per-passage
lookups are cached (an index never changes once written).

Example:
    >>> from hipporag.index import Index
    >>> view = IndexGraphView(Index.open(DEMO_INDEX))
    >>> type(view.question_entities("Who directed Salt Harbour?")).__name__
    'dict'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from hipporag.index.lookups import FactRow
from hipporag.names import find_names, is_uncased, match_key, words
from hipporag.protocols import IndexView
from hipporag.text import normalize_entity
from hipporag.types import Hit
from retrievers.explain import SparseScores
from retrievers.ppr import PPR

_MAX_NGRAM = 12
# A capitalised word right before or after a match: the match is part of a longer name.
_PREV_WORD = re.compile(r"(?<![.!?])\s([^\W\d_][\w'-]*)\s*$")
_NEXT_WORD = re.compile(r"\s+([^\W\d_])")
_ARTICLES_CAP = frozenset({"The", "A", "An"})
_STOP_WORDS = (
    "a an the of in on at to for by with and or is was are were be been who what which "
    "when where why how whom whose that this these those it its from as into than"
)
_STOP = frozenset(_STOP_WORDS.split())


_MONTHS = "january february march april may june july august september october november december"
_DATE_WORDS = "st|nd|rd|th|s|bc|ad|ce|bce|century|centuries|the|of|in|early|late|mid"
_DATE_LIKE = re.compile(rf"(?:[0-9 ]|(?:{'|'.join(_MONTHS.split())})|(?:{_DATE_WORDS})\b)+")


def is_date_like(name: str) -> bool:
    """Whether a normalised name is only a date, year, number or century.

    Example:
        >>> [is_date_like(n) for n in ("1987", "2 september 1862", "the 12th century", "opera")]
        [True, True, True, False]
    """
    return bool(_DATE_LIKE.fullmatch(name))


def _uncased(word: str) -> bool:
    """Whether a word is written in a script without case (CJK, Thai, Arabic, ...)."""
    return is_uncased(word[:1])


def _cased(word: str, first: bool) -> bool:
    """Whether a question word may start a name: capitalised (not first), uncased, or a digit."""
    if any(ch.isdigit() for ch in word):
        return True
    return _uncased(word) or (not first and word[:1].isupper())


def contains_name(haystack_norm: str, name_norm: str) -> bool:
    """Whether a normalised name occurs in a normalised text on word boundaries.

    Example:
        >>> contains_name("who directed salt harbour", "salt harbour")
        True
        >>> contains_name("who directed salt harbour", "salt")
        True
        >>> contains_name("who directed salt harbour", "alt")
        False
        >>> contains_name("玛丽 居里的丈夫是谁", "玛丽 居里"), contains_name("玛丽 居里", "居")
        (True, False)
    """
    if not name_norm:
        return False
    if f" {name_norm} " in f" {haystack_norm} ":
        return True
    if not (is_uncased(name_norm[0]) or is_uncased(name_norm[-1])):
        return False
    return name_norm in find_names(haystack_norm, {name_norm: True})


Fact = FactRow
"""A fact of the index: ``(subject, relation, object)`` with entity ids (see ``FactRow``)."""


class IndexGraphView:
    """Entity, fact and PPR lookups on an :class:`~hipporag.index.Index`.

    Args:
        index: An open index (any :class:`~hipporag.protocols.IndexView`).
        damping: PPR damping used to rank entities by mass (HippoRAG uses 0.5).
        generic_fraction: Entities mentioned in more than this fraction of the
            passages (and in more than 10) are too generic to be question entities.

    Thread-safe.

    Example:
        >>> from hipporag.index import Index
        >>> index = Index.open(DEMO_INDEX)
        >>> view = IndexGraphView(index)
        >>> pid = index.passage_ids[0]
        >>> list(view.passage_facts([pid])) == [pid]
        True
    """

    def __init__(
        self, index: IndexView, *, damping: float = 0.5, generic_fraction: float = 0.02
    ) -> None:
        self.index = index
        self.damping = damping
        self.generic_fraction = generic_fraction
        self._lock = threading.Lock()
        self._entities: dict[str, tuple[int, ...]] = {}
        self._facts: dict[str, tuple[Fact, ...]] = {}
        self._texts: dict[str, str] = {}
        self._mass: dict[frozenset[tuple[int, float]], SparseScores] = {}
        self._views: dict[bytes, IndexGraphView] = {}

    # -- name and id maps ----------------------------------------------------------
    @cached_property
    def names(self) -> list[str]:
        """Entity names by ``entity_idx``."""
        return list(self.index.entity_names)

    @cached_property
    def _by_name(self) -> dict[str, list[int]]:
        """Visible (live, in the view) entities by match key; each list ordered by name."""
        live = getattr(self.index, "live", None)
        ids = np.flatnonzero(live("entities")).tolist() if live else range(len(self.names))
        out: dict[str, list[int]] = {}
        for i in sorted(ids, key=self.names.__getitem__):
            out.setdefault(match_key(self.names[i]), []).append(i)
        return out

    def restricted(self, allow: np.ndarray) -> IndexGraphView:
        """These lookups on the filtered view of ``allow`` (:mod:`retrievers.view`); kept a while."""
        from retrievers.view import FilteredIndex

        key = np.ascontiguousarray(allow, np.int64).tobytes()
        with self._lock:
            found = self._views.get(key)
        if found is None:
            base = getattr(self.index, "unfiltered", self.index)
            found = IndexGraphView(
                FilteredIndex(base, allow),
                damping=self.damping,
                generic_fraction=self.generic_fraction,
            )
            with self._lock:
                self._views[key] = found
                while len(self._views) > 4:
                    self._views.pop(next(iter(self._views)))
        return found

    @cached_property
    def _by_id(self) -> dict[str, int]:
        return self.index.entity_index()

    @cached_property
    def _pidx(self) -> dict[str, int]:
        return self.index.passage_index()

    @cached_property
    def _n_passages_of(self) -> np.ndarray:
        return self.index.entity_passage_counts()

    @cached_property
    def _ppr(self) -> PPR:
        return PPR(self.index.graph)

    def resolve(self, node: str) -> int | None:
        """Entity idx of a seed node given as an entity id, a name or a number."""
        if node in self._by_id:
            return self._by_id[node]
        hits = self._by_name.get(match_key(node))
        if hits:
            return hits[0]
        return int(node) if node.isdigit() and int(node) < len(self.names) else None

    def is_generic(self, entity: int) -> bool:
        """Mentioned in too many passages to single out a question's topic."""
        n = int(self._n_passages_of[entity])
        n_live = getattr(self.index, "n_live", None)
        total = n_live("passages") if n_live else self.index.n_passages
        return n > 10 and n > self.generic_fraction * total

    # -- per-passage lookups ---------------------------------------------------------
    def passage_entities(self, pids: Sequence[str]) -> dict[str, tuple[int, ...]]:
        """Entity idxs mentioned in each passage (unknown ids map to ``()``)."""
        self._fill(pids, self._entities, self._load_entities)
        return {p: self._entities.get(p, ()) for p in pids}

    def passage_facts(self, pids: Sequence[str]) -> dict[str, tuple[Fact, ...]]:
        """Facts extracted from each passage."""
        self._fill(pids, self._facts, self._load_facts)
        return {p: self._facts.get(p, ()) for p in pids}

    def _fill(self, pids: Sequence[str], cache: dict[str, Any], load: Any) -> None:
        missing = [p for p in pids if p not in cache and p in self._pidx]
        if missing:
            loaded = load([self._pidx[p] for p in missing])
            with self._lock:
                for p in missing:
                    cache[p] = tuple(loaded.get(self._pidx[p], ()))

    def _load_entities(self, idxs: list[int]) -> dict[int, list[int]]:
        return self.index.entities_of_passages(idxs)

    def _load_facts(self, idxs: list[int]) -> dict[int, list[Fact]]:
        return self.index.facts_of_passages(idxs)

    def passage_texts(self, pids: Sequence[str]) -> dict[str, str]:
        """Title and text of each passage (cached)."""
        missing = [p for p in pids if p not in self._texts and p in self._pidx]
        if missing:
            found = self.index.passages([self._pidx[p] for p in missing])
            with self._lock:
                for p in found:
                    self._texts[p.id] = f"{p.title}\n{p.text}"
        return {p: self._texts.get(p, "") for p in pids}

    def is_named(self, entity: int, pids: Sequence[str]) -> bool | None:
        """Whether the entity is written capitalised in one of the passages (a proper name).

        None when its name is not found verbatim (ignoring case) in any of them.
        """
        name = self.names[entity].strip()
        if not name:
            return None
        pattern = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)", re.IGNORECASE)
        seen = False
        for text in self.passage_texts(pids).values():
            for m in pattern.finditer(text):
                seen = True
                first = next((c for c in m.group(0) if c.isalpha()), "")
                if not first or first.lower() == first.upper():
                    return True  # no letter, or a script without case (CJK, ...)
                before = _PREV_WORD.search(text, 0, m.start())
                after = _NEXT_WORD.match(text, m.end())
                before_cap = before is not None and before.group(1)[0].isupper()
                after_cap = after is not None and after.group(1).isupper()
                inside = (before_cap and before.group(1) not in _ARTICLES_CAP) or after_cap
                if first.isupper() and not inside:
                    return True
        return False if seen else None

    # -- question and text linking ------------------------------------------------------
    def question_entities(self, question: str, hits: Sequence[Hit] = ()) -> dict[int, float]:
        """Entities named in a question (weight 1); the retriever's seeds as a fallback.

        Names are matched on word n-grams of the question, longest first. An
        n-gram counts only if one of its words is capitalised after the first
        word, or holds a digit (so "country" or "author" never match, "Brand"
        or "1987" do); a question with no capital letters after the first word
        lifts that rule. Generic entities are skipped. When nothing matches,
        the entity seeds in the hits' explanations are used, weights scaled to
        at most 1. In scripts written without spaces (Chinese, Japanese, Thai)
        known names are also found inside runs of letters (:func:`hipporag.names.find_names`).
        """
        found = words(question)
        tokens = [normalize_entity(w) for w in found]
        cased = [_cased(w, i == 0) for i, w in enumerate(found)]
        if not any(cased[1:]):
            cased = [True] * len(found)
        out: dict[int, float] = {}
        covered = [False] * len(tokens)
        for n in range(min(_MAX_NGRAM, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                if any(covered[i : i + n]) or not any(cased[i : i + n]):
                    continue
                gram = " ".join(tokens[i : i + n])
                short = len(gram) < 3 and not _uncased(gram)  # 2-letter CJK names are fine
                if n == 1 and (gram in _STOP or short):
                    continue
                ents = [e for e in self._by_name.get(gram, ()) if not self.is_generic(e)]
                if ents:
                    covered[i : i + n] = [True] * n
                    for e in ents:
                        out[e] = 1.0
        rest = " ".join(t for t, c in zip(tokens, covered, strict=True) if not c)
        if any(_uncased(t) or any(is_uncased(ch) for ch in t) for t in rest.split()):
            # Chinese, Japanese, Thai: names inside unspaced runs ("玛丽·居里的丈夫是谁").
            for name in find_names(match_key(rest), self._by_name):
                for e in self._by_name[name]:
                    if not self.is_generic(e):
                        out[e] = 1.0
        if out:
            return out
        seeds: dict[int, float] = {}
        for hit in hits:
            for seed in hit.explanation.seeds if hit.explanation else ():
                e = self.resolve(seed.node) if seed.kind == "entity" else None
                if e is not None and seed.weight > 0:
                    seeds[e] = max(seeds.get(e, 0.0), float(seed.weight))
        top = max(seeds.values(), default=1.0)
        return {e: w / top for e, w in seeds.items()}

    def link_text(self, text: str, pids: Sequence[str], limit: int = 10) -> dict[int, float]:
        """Proper names of the passages ``pids`` that ``text`` names, most specific first.

        Dates, numbers, generic entities and lower-case common nouns are left
        out. Weight ``1 / (1 + log(1 + n_passages))``: rare names weigh more.
        """
        norm = match_key(text)
        found: set[int] = set()
        for ents in self.passage_entities(pids).values():
            for e in ents:
                name = match_key(self.names[e])
                if (
                    contains_name(norm, name)
                    and not is_date_like(name)
                    and not self.is_generic(e)
                    and self.is_named(e, pids) is not False
                ):
                    found.add(e)
        weights = {e: 1.0 / (1.0 + float(np.log1p(self._n_passages_of[e]))) for e in found}
        return dict(sorted(weights.items(), key=lambda kv: -kv[1])[:limit])

    # -- PPR mass -----------------------------------------------------------------------
    def entity_mass(self, seeds: Mapping[int, float]) -> SparseScores:
        """PPR mass of the entities for the given ``{node: weight}`` seeds (cached).

        Sparse: only the entities the walk touched carry mass; ``mass[e]`` is 0
        for every other one.
        """
        key = frozenset((int(k), round(float(v), 6)) for k, v in seeds.items() if v > 0)
        cached = self._mass.get(key)
        if cached is not None:
            return cached
        n_ent = len(self.names)
        if not key:
            mass = SparseScores(np.zeros(0, np.int64), np.zeros(0))
        else:
            walk = self._ppr.sparse(dict(key), damping=self.damping)
            ents = walk.nodes < n_ent
            mass = SparseScores(walk.nodes[ents], walk.scores[ents])
        with self._lock:
            if len(self._mass) > 256:
                self._mass.clear()
            self._mass[key] = mass
        return mass

    def passage_nodes(self, pids: Sequence[str]) -> dict[int, float]:
        """Graph node ids of passages, weight 1 each (seeds when a question names nothing)."""
        n_ent = len(self.names)
        return {n_ent + self._pidx[p]: 1.0 for p in pids if p in self._pidx}


__all__ = ["Fact", "IndexGraphView", "contains_name", "match_key", "words"]

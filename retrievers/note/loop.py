"""The adaptive note loop: retrieve, write a note, then ask, retrieve, refine and judge.

Algorithm (one run for one question)::

    hits = retrieve(question, top_k);  best = first_note(question, hits)
    while rejected < max_fail_step and step < max_step and seen < max_top_k:
        query = next_query(question, best, queries)        # None -> stop
        hits  = retrieve(query, top_k, seeds=best.seeds)   # new passages only, within budget
        cand  = refine(question, best, hits)
        if judge(question, best, cand).accept: best = cand
        else: rejected += 1

A step that brings no new passage is rejected without calling ``refine`` or
``judge`` (nothing could have improved). A repeated query stops the loop unless
``exclude_seen`` is on (then it pages to the next unseen passages). The loop never sees more than
``max_top_k`` distinct passages: new passages beyond the budget are dropped.

The retriever is a :class:`SeededRetriever` (``retrieve(query, k, **options)``
declaring in ``accepts`` whether it takes ``extra_seeds`` and ``exclude``; the
:class:`pipelines.facade.HippoRAG` facade and the retrievers of
:mod:`retrievers.registry` declare both), any plain
:class:`~hipporag.protocols.Retriever` (seeds are then not sent), or a
callable ``retrieve_fn(query, k, extra_seeds)``. The loop itself implements
the Retriever protocol, so it can stand wherever a retriever does.

Example:
    >>> from hipporag.types import Hit, RetrievalResult
    >>> from retrievers.note.policy import Note, Verdict
    >>> def retrieve_fn(query, k, extra_seeds):
    ...     n = len(query)
    ...     hits = [Hit(f"p{n}_{i}", f"T{n}_{i}", "text", 1.0, i + 1) for i in range(k)]
    ...     return RetrievalResult(query, hits, "dense")
    >>> class Always:
    ...     name = "always"
    ...     def first_note(self, q, hits, m): return Note("n", tuple(h.passage_id for h in hits))
    ...     def next_query(self, q, note, queries, m): return q + "?" * len(queries)
    ...     def refine(self, q, note, hits, m):
    ...         return Note("n", note.passage_ids + tuple(h.passage_id for h in hits))
    ...     def judge(self, q, best, cand, m): return Verdict(True, "more")
    >>> loop = NoteLoop(retrieve_fn, Always(), NoteConfig(top_k=2, max_top_k=5))
    >>> res = loop.run("why")
    >>> res.trace.stop_reason, res.trace.retrieval_calls, len(res.seen_ids)
    ('max_top_k', 3, 5)
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from hipporag.errors import RetrievalError
from hipporag.text import normalize_entity
from hipporag.types import Hit, RetrievalResult
from retrievers.note.config import NoteConfig
from retrievers.note.policy import Meter, Note, NotePolicy, Verdict
from retrievers.note.trace import NoteResult, NoteStep, NoteTrace

RetrieveFn = Callable[[str, int, Mapping[int, float] | None], RetrievalResult]
"""``retrieve_fn(query, k, extra_seeds)``: the loop's view of a retriever."""


@runtime_checkable
class SeededRetriever(Protocol):
    """A retriever that says which of the loop's options its ``retrieve`` takes.

    ``accepts`` holds ``"extra_seeds"`` (the note's entity seeds are forwarded)
    and/or ``"exclude"`` (seen passages are excluded instead of over-fetched) and/or
    ``"allow"`` (an allow-list of ``passage_idx`` is passed on).
    A plain :class:`~hipporag.protocols.Retriever` without ``accepts`` gets neither.
    """

    accepts: frozenset[str]

    def retrieve(self, query: str, k: int = 5, **options: Any) -> RetrievalResult: ...


class _Backend:
    """A retriever seen through the loop's needs: seeds and exclusion, when declared."""

    def __init__(self, retriever: Any) -> None:
        method = getattr(retriever, "retrieve", None)
        if callable(method):
            accepts = getattr(retriever, "accepts", frozenset())
            self.seeds = "extra_seeds" in accepts
            self.exclude = "exclude" in accepts
            self.allow = "allow" in accepts
            self._method: Callable[..., RetrievalResult] | None = method
            self._fn: RetrieveFn | None = None
        elif callable(retriever):
            self.seeds, self.exclude, self._method, self._fn = True, False, None, retriever
            self.allow = False
        else:
            raise RetrievalError(
                f"the note loop needs a retriever, got {type(retriever).__name__}",
                hint="pass an object with retrieve(query, k, extra_seeds=None) such as "
                "HippoRAG.open(INDEX_DIR), or a function retrieve_fn(query, k, extra_seeds)",
            )

    def __call__(
        self,
        query: str,
        k: int,
        seeds: Mapping[int, float] | None,
        exclude: Sequence[str] = (),
        allow: Any = None,
    ) -> RetrievalResult:
        if self._fn is not None:
            return self._fn(query, k, seeds)
        assert self._method is not None
        kwargs: dict[str, Any] = {"k": k}
        if self.seeds:
            kwargs["extra_seeds"] = seeds
        if self.exclude and exclude:
            kwargs["exclude"] = list(exclude)
        if allow is not None:
            kwargs["allow"] = allow
        return self._method(query, **kwargs)


def as_retrieve_fn(retriever: Any) -> tuple[RetrieveFn, bool]:
    """Adapt a retriever object or function to :data:`RetrieveFn`.

    Args:
        retriever: An object with ``retrieve(query, k, extra_seeds=...)``, a
            plain retriever with ``retrieve(query, k)``, or a callable
            ``f(query, k, extra_seeds)``.

    Returns:
        The function and whether it forwards extra seeds.

    Raises:
        RetrievalError: If ``retriever`` is neither.
    """
    backend = _Backend(retriever)
    return (lambda q, k, s: backend(q, k, s)), backend.seeds


class NoteLoop:
    """Adaptive note-enhanced iterative retrieval over any retriever.

    Args:
        retriever: See :func:`as_retrieve_fn`.
        policy: Writes, refines and judges notes and proposes queries.
        config: Budgets (``top_k``, ``max_step``, ``max_fail_step``, ``max_top_k``)
            and the seeding and ranking knobs of :class:`~retrievers.note.config.NoteConfig`.
        entity_names: Entity names by ``entity_idx``, only used to print seeds.

    Thread-safe as long as the retriever and the policy are.

    Example:
        >>> from retrievers.note.config import NoteConfig
        >>> from pipelines.facade import HippoRAG
        >>> from retrievers.note import GraphNotePolicy, IndexGraphView
        >>> rag = HippoRAG.open(DEMO_INDEX)
        >>> policy = GraphNotePolicy(IndexGraphView(rag.index))
        >>> result = NoteLoop(rag, policy, NoteConfig()).run("Who directed Big Eyes?")
        >>> result.mode, result.trace is not None
        ('note', True)
    """

    mode = "note"

    def __init__(
        self,
        retriever: Any,
        policy: NotePolicy,
        config: NoteConfig | None = None,
        *,
        entity_names: Sequence[str] | None = None,
    ) -> None:
        self.config = config or NoteConfig()
        self.policy = policy
        self._backend = _Backend(retriever)
        self.forwards_seeds = self._backend.seeds
        self._entity_names = entity_names

    # -- Retriever protocol --------------------------------------------------
    def retrieve(self, query: str, k: int = 5, *, allow: Any = None) -> NoteResult:
        """Run the loop; ``hits`` is its final ranking of the seen passages, cut at ``k``."""
        return self.run(query, k=k, allow=allow)

    def retrieve_batch(
        self, queries: Sequence[str], k: int = 5, *, allow: Any = None
    ) -> list[NoteResult]:
        """Run the loop for each query in turn."""
        return [self.run(q, k=k, allow=allow) for q in queries]

    # -- the loop --------------------------------------------------------------
    def run(self, question: str, k: int | None = None, *, allow: Any = None) -> NoteResult:
        """Run the loop for one question.

        Args:
            question: The question.
            k: Cut the final ranking at ``k`` hits (None: all seen passages).
                The loop's own retrieval depth is ``config.top_k``.
            allow: Sorted int64 ``passage_idx`` every retrieval is restricted to
                (None: all); needs a retriever that declares ``"allow"`` in ``accepts``.

        Returns:
            A :class:`~retrievers.note.trace.NoteResult` with the ranking, the best
            note and the trace.

        Raises:
            RetrievalError: On an empty question or ``k < 1``.
        """
        if not isinstance(question, str) or not question.strip():
            raise RetrievalError("the question is empty", hint="pass a non-empty question")
        if k is not None and k < 1:
            raise RetrievalError(f"k must be >= 1, got {k}", hint="ask for at least one hit")
        if allow is not None and not self._backend.allow:
            raise RetrievalError(
                "this retriever cannot restrict passages (allow=)",
                hint="use a retriever that declares 'allow' in accepts, e.g. HippoRAG.open(...)",
            )
        cfg, meter = self.config, Meter()
        policy = self._policy_for(allow)
        trace = NoteTrace(question=question, policy=getattr(self.policy, "name", ""))
        seen: dict[str, Hit] = {}

        t0 = time.perf_counter()
        result = self._call(question, None, seen, trace, allow)
        new = self._admit(result, seen)
        best = policy.first_note(question, new, meter)
        trace.steps.append(
            NoteStep(
                0,
                question,
                {},
                result.passage_ids,
                [h.passage_id for h in new],
                best.text,
                None,
                True,
                list(result.flags),
                (time.perf_counter() - t0) * 1000,
            )
        )
        queries, fails = [question], 0
        while True:
            if fails >= cfg.max_fail_step:
                trace.stop_reason = "max_fail_step"
                break
            if trace.n_steps >= cfg.max_step:
                trace.stop_reason = "max_step"
                break
            if len(seen) >= cfg.max_top_k:
                trace.stop_reason = "max_top_k"
                break
            t0 = time.perf_counter()
            query = policy.next_query(question, best, queries, meter)
            query = (query or "").strip()
            repeated = normalize_entity(query) in {normalize_entity(q) for q in queries}
            if not query or (repeated and not cfg.exclude_seen):
                trace.stop_reason = "no_new_query"  # a repeat would bring the same passages
                break
            queries.append(query)
            seeds = self._seeds(best)
            result = self._call(query, seeds, seen, trace, allow)
            new = self._admit(result, seen)
            step = NoteStep(
                len(trace.steps),
                query,
                self._named(seeds),
                result.passage_ids,
                [h.passage_id for h in new],
                flags=list(result.flags),
            )
            if not new:
                step.verdict = Verdict(False, "no new passage retrieved")
                step.note_text = best.text
            else:
                candidate = policy.refine(question, best, new, meter)
                step.verdict = policy.judge(question, best, candidate, meter)
                step.note_text = candidate.text
                if step.verdict.accept:
                    best, trace.best_step = candidate, step.index
            step.accepted = step.verdict.accept
            fails += 0 if step.accepted else 1
            step.ms = (time.perf_counter() - t0) * 1000
            trace.steps.append(step)

        trace.llm_calls, trace.bad_outputs = meter.llm_calls, meter.bad_outputs
        trace.problems = list(meter.problems)
        trace.seen_ids = list(seen)
        trace.titles = {pid: h.title for pid, h in seen.items()}
        hits = self._rank(seen, best)
        flags = ["note", f"stop:{trace.stop_reason}"]
        if not self.forwards_seeds:
            flags.append("note_seeds_unsupported")
        return NoteResult(
            query=question,
            hits=hits[:k] if k else hits,
            mode=self.mode,
            flags=flags,
            timings_ms={"loop": sum(s.ms for s in trace.steps)},
            note=best,
            trace=trace,
            seen_ids=list(seen),
        )

    # -- helpers -----------------------------------------------------------------
    def _policy_for(self, allow: Any) -> NotePolicy:
        """The policy, its index lookups restricted to the filtered view of ``allow``."""
        view = getattr(self.policy, "view", None)
        if allow is None or view is None or not hasattr(view, "restricted"):
            return self.policy
        policy = copy.copy(self.policy)
        policy.view = view.restricted(allow)  # type: ignore[attr-defined]
        return policy

    def _call(
        self,
        query: str,
        seeds: Mapping[int, float] | None,
        seen: dict[str, Hit],
        trace: NoteTrace,
        allow: Any = None,
    ) -> RetrievalResult:
        k, exclude = self.config.top_k, list(seen) if self.config.exclude_seen else []
        if exclude and not self._backend.exclude:
            k += len(exclude)  # ask for more and drop the seen ones
        trace.retrieval_calls += 1
        result = self._backend(query, k, seeds or None, exclude, allow)
        if not isinstance(result, RetrievalResult):
            raise RetrievalError(
                f"the retriever returned {type(result).__name__}, not a RetrievalResult",
                hint="retrieve_fn(query, k, extra_seeds) must return a RetrievalResult",
            )
        return result

    def _admit(self, result: RetrievalResult, seen: dict[str, Hit]) -> list[Hit]:
        """New passages of ``result`` within the budgets; adds them to ``seen``."""
        cfg = self.config
        room = min(cfg.top_k, cfg.max_top_k - len(seen))
        new: list[Hit] = []
        for hit in result.hits:
            if len(new) >= room:
                break
            if hit.passage_id not in seen:
                seen[hit.passage_id] = hit
                new.append(hit)
        return new

    def _seeds(self, note: Note) -> dict[int, float]:
        """The note's strongest seeds, scaled to sum to ``note_seed_weight``."""
        cfg = self.config
        if cfg.note_seed_weight <= 0 or cfg.max_note_seeds <= 0 or not note.seeds:
            return {}
        top = sorted(note.seeds.items(), key=lambda kv: -kv[1])[: cfg.max_note_seeds]
        total = sum(w for _, w in top if w > 0)
        if total <= 0:
            return {}
        return {int(i): float(w) / total * cfg.note_seed_weight for i, w in top if w > 0}

    def _named(self, seeds: Mapping[int, float]) -> dict[str, float]:
        names = self._entity_names
        out: dict[str, float] = {}
        for i, w in seeds.items():
            key = names[i] if names is not None and 0 <= i < len(names) else str(i)
            out[key] = round(float(w), 4)
        return out

    @staticmethod
    def _rank(seen: dict[str, Hit], best: Note) -> list[Hit]:
        """Best-note passages first, each group in the order seen; score ``1 / rank``.

        Passages come from different queries whose scores are not comparable, so
        the order is that of discovery: the question's own ranking, then each
        step's new passages in their rank order.
        """
        in_note = set(best.passage_ids)
        order = sorted(seen, key=lambda pid: pid not in in_note)  # stable: keeps seen order
        return [
            dataclasses.replace(seen[pid], score=1.0 / rank, rank=rank)
            for rank, pid in enumerate(order, start=1)
        ]


__all__ = ["NoteLoop", "RetrieveFn", "SeededRetriever", "as_retrieve_fn"]

"""Retrieval evaluation on MuSiQue-style question files: recall@k and latency.

Question format (musique100): a JSON list of ``{"id", "question", "paragraphs":
[{"title", "paragraph_text", "is_supporting"}, ...]}``. The gold passages of a
question are its supporting paragraphs, matched to index passages by
:func:`hipporag.text.passage_id` of (title, text) -- never by title alone.

Metric: passage recall@k = share of a question's gold passages in the top k,
averaged over questions (HippoRAG's protocol), also split by the number of
gold passages ("hops"). Latency: wall time of one ``retrieve`` call per
question, query encoding included, after one untimed warm-up query.

Questions whose gold passages are not all in the index are left out of the
metrics, counted (``n_missing_gold``) and listed (``missing_gold_ids``).

Modes plug in through :data:`RUNNERS` (mode -> runner). A runner answers one
question: it returns the ranked passage ids and optional extra numbers, which
are averaged into ``extra`` of the report. Every single-call ranker of the
retriever registry (:mod:`retrievers.registry`) is registered with
:func:`retrieval_runner`; modes whose runner needs settings are registered
explicitly with them, e.g. ``register_runner("note", NoteRunner(config, llm))``
(:class:`pipelines.qa.NoteRunner`), or passed to :func:`evaluate` as ``runner=``.

Example:
    >>> from pipelines.evaluate import recall_at
    >>> recall_at(["a", "x", "b"], {"a", "b"}, 2)
    0.5
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.errors import InputError, RetrievalError
from hipporag.text import passage_id
from retrievers import registry

KS = (1, 2, 5, 10, 20)


@dataclass(frozen=True, slots=True)
class Question:
    """One evaluation question with its gold passage ids."""

    id: str
    question: str
    gold: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class Outcome:
    """What a runner returns for one question."""

    ranked: list[str]
    extra: dict[str, float] = field(default_factory=dict)


Runner = Callable[[Any, Question, int, str], Outcome]
"""``runner(rag, question, k, mode) -> Outcome`` (ranked passage ids, best first)."""


def _doc_ids(index: Any) -> set[str]:
    """Document ids of an index (empty for indexes written before documents had ids)."""
    try:
        return set(index.sql("SELECT DISTINCT doc_id FROM passages")["doc_id"].to_list())
    except Exception:  # an older index has no doc_id column (a DuckDB binder error)
        return set()


def retrieval_runner(rag: Any, question: Question, k: int, mode: str) -> Outcome:
    """The runner of the retrieval modes: one ``rag.retrieve`` call."""
    result = rag.retrieve(question.question, k=k, mode=mode)
    extra = {"no_seeds": float("no_seeds" in result.flags)}
    # Gold ids name documents (a chunked document's chunks count as that document).
    return Outcome(list(dict.fromkeys(h.document for h in result.hits)), extra)


RUNNERS: dict[str, Runner] = {m: retrieval_runner for m in registry.names(rankers_only=True)}


def register_runner(mode: str, runner: Runner) -> None:
    """Make ``mode`` available to :func:`evaluate` and ``hipporag eval --mode``."""
    RUNNERS[mode] = runner


def get_runner(mode: str) -> Runner:
    """The runner registered for ``mode``.

    Raises:
        RetrievalError: Unknown mode, or a registry mode whose runner needs settings
            and was not registered.
    """
    if mode not in RUNNERS:
        if mode in registry.names():
            raise RetrievalError(
                f"evaluation mode {mode!r} has no runner registered",
                hint=f"register one with its settings first, e.g. "
                f"register_runner({mode!r}, NoteRunner(config, llm))",
            )
        raise RetrievalError(
            f"unknown evaluation mode {mode!r}", hint=f"use one of {available_modes()}"
        )
    return RUNNERS[mode]


def available_modes() -> list[str]:
    """Modes that can be evaluated: registered runners and the retriever registry's modes."""
    return sorted({*RUNNERS, *registry.names()})


def load_questions(path: str | Path, limit: int | None = None) -> list[Question]:
    """Read a MuSiQue-style question file; raise :class:`InputError` with a fix if unusable."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"question file not found: {p}", hint="pass --questions QUESTIONS.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(
            f"{p} is not valid JSON: {err}", hint="expected a list of questions"
        ) from None
    if not isinstance(data, list):
        raise InputError(f"{p} must hold a JSON list of questions, got {type(data).__name__}")
    out = []
    for n, q in enumerate(data):
        where = f"{p}[{n}]"
        if not isinstance(q, dict) or not isinstance(q.get("question"), str):
            raise InputError(f"{where} has no 'question' string", hint="see data README format")
        paras = q.get("paragraphs")
        if not isinstance(paras, list):
            raise InputError(f"{where} has no 'paragraphs' list", hint="see data README format")
        gold = []
        for para in paras:
            if not isinstance(para, dict):
                raise InputError(f"{where}: a paragraph is not an object")
            if para.get("is_supporting"):
                text = para.get("paragraph_text", para.get("text"))
                if not isinstance(text, str):
                    raise InputError(f"{where}: a supporting paragraph has no text")
                gold.append(passage_id(str(para.get("title", "")), text))
        if not gold:
            raise InputError(
                f"{where} has no supporting paragraph", hint="mark gold ones is_supporting: true"
            )
        out.append(Question(str(q.get("id", n)), q["question"], tuple(dict.fromkeys(gold)), q))
        if limit is not None and len(out) >= limit:
            break
    return out


def recall_at(ranked: Sequence[str], gold: set[str] | Sequence[str], k: int) -> float:
    """Share of ``gold`` found in the first ``k`` of ``ranked``."""
    gold = set(gold)
    return len(gold.intersection(ranked[:k])) / len(gold) if gold else 0.0


@dataclass
class EvalReport:
    """Aggregated metrics of one evaluation run."""

    mode: str
    n: int
    recall: dict[int, float]
    recall_by_hops: dict[int, dict[int, float]]
    n_by_hops: dict[int, int]
    latency_ms: dict[str, float]
    n_missing_gold: int = 0
    missing_gold_ids: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: keys as strings (``{"recall": {"1": ...}}``)."""
        return {
            "n": self.n,
            "mode": self.mode,
            "recall": {str(k): v for k, v in self.recall.items()},
            "latency_ms": dict(self.latency_ms),
            "recall_by_hops": {
                str(h): {str(k): v for k, v in r.items()} for h, r in self.recall_by_hops.items()
            },
            "n_by_hops": {str(h): n for h, n in self.n_by_hops.items()},
            "n_missing_gold": self.n_missing_gold,
            "missing_gold_ids": list(self.missing_gold_ids),
            "extra": dict(self.extra),
        }

    def table(self) -> str:
        """A plain-text table for terminals."""
        ks = list(self.recall)
        head = f"{'':>12}" + "".join(f"{'R@' + str(k):>8}" for k in ks) + f"{'n':>6}"
        lines = [f"mode {self.mode}: {self.n} questions", head]
        lines.append(
            f"{'all':>12}" + "".join(f"{self.recall[k]:8.4f}" for k in ks) + f"{self.n:6d}"
        )
        for h, r in self.recall_by_hops.items():
            row = "".join(f"{r[k]:8.4f}" for k in ks)
            lines.append(f"{str(h) + ' gold':>12}{row}{self.n_by_hops[h]:6d}")
        lat = self.latency_ms
        lines.append(f"latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}")
        if self.n_missing_gold:
            lines.append(
                f"skipped {self.n_missing_gold} question(s) whose gold passages are not all in "
                f"the index: {', '.join(self.missing_gold_ids[:5])}"
                + (" ..." if self.n_missing_gold > 5 else "")
            )
        for name, value in self.extra.items():
            lines.append(f"{name}: {value:.4f}")
        return "\n".join(lines)


def aggregate(
    mode: str,
    questions: Sequence[Question],
    outcomes: Sequence[Outcome],
    latencies_ms: Sequence[float],
    ks: Sequence[int] = KS,
    missing: Sequence[str] = (),
) -> EvalReport:
    """Metrics from per-question outcomes (pure; used by :func:`evaluate` and the tests)."""
    recall = {k: 0.0 for k in ks}
    by_hops: dict[int, dict[int, list[float]]] = {}
    extras: dict[str, list[float]] = {}
    for q, out in zip(questions, outcomes, strict=True):
        hops = by_hops.setdefault(len(q.gold), {k: [] for k in ks})
        for k in ks:
            r = recall_at(out.ranked, q.gold, k)
            recall[k] += r
            hops[k].append(r)
        for name, value in out.extra.items():
            extras.setdefault(name, []).append(float(value))
    n = len(outcomes)
    lat = np.asarray(latencies_ms, dtype=np.float64)
    return EvalReport(
        mode=mode,
        n=n,
        recall={k: (v / n if n else 0.0) for k, v in recall.items()},
        recall_by_hops={
            h: {k: float(np.mean(v)) for k, v in r.items()} for h, r in sorted(by_hops.items())
        },
        n_by_hops={h: len(r[ks[0]]) for h, r in sorted(by_hops.items())},
        latency_ms={
            "p50": float(np.percentile(lat, 50)) if lat.size else 0.0,
            "p95": float(np.percentile(lat, 95)) if lat.size else 0.0,
        },
        n_missing_gold=len(missing),
        missing_gold_ids=list(missing),
        extra={name: float(np.mean(v)) for name, v in extras.items()},
    )


def evaluate(
    rag: Any,
    questions: Sequence[Question],
    mode: str | None = None,
    ks: Sequence[int] = KS,
    progress: Callable[[int, int], None] | None = None,
    runner: Runner | None = None,
) -> EvalReport:
    """Run every question through the runner of ``mode`` and aggregate.

    Args:
        rag: An opened :class:`~pipelines.facade.HippoRAG` (or anything the runner accepts).
        questions: From :func:`load_questions`.
        mode: Evaluation mode (default: the facade's configured mode).
        ks: Cut-offs for recall.
        progress: Called as ``progress(done, total)`` after each question.
        runner: Use this runner instead of the one registered for ``mode``.
    """
    mode = mode or getattr(getattr(rag, "config", None), "mode", None) or "hybrid"
    runner = runner or get_runner(mode)
    known = set(rag.index.passage_ids) | _doc_ids(rag.index)
    present = [all(g in known for g in q.gold) for q in questions]
    usable = [q for q, ok in zip(questions, present, strict=True) if ok]
    missing = [q.id for q, ok in zip(questions, present, strict=True) if not ok]
    k = max(ks)
    if usable:  # untimed warm-up: loads models and tables
        runner(rag, usable[0], k, mode)
    outcomes, latencies = [], []
    for i, q in enumerate(usable):
        t = time.perf_counter()
        outcomes.append(runner(rag, q, k, mode))
        latencies.append((time.perf_counter() - t) * 1e3)
        if progress is not None:
            progress(i + 1, len(usable))
    return aggregate(mode, usable, outcomes, latencies, ks, missing)


__all__ = [
    "KS",
    "RUNNERS",
    "EvalReport",
    "Outcome",
    "Question",
    "Runner",
    "aggregate",
    "available_modes",
    "evaluate",
    "get_runner",
    "load_questions",
    "recall_at",
    "register_runner",
    "retrieval_runner",
]

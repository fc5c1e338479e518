"""What the note loop did, step by step, and the result it returns.

:class:`NoteTrace` records every step (query, seeds, retrieved and new
passages, the note, the judge's verdict), why the loop stopped, and how many
retrieval and LLM calls it made. It prints as a readable report and converts
to a JSON-able dict. :class:`NoteResult` is a
:class:`~hipporag.types.RetrievalResult` (usable wherever one is expected)
that also carries the best note, the trace and every passage seen.

Example:
    >>> trace = NoteTrace(question="Who?", policy="graph")
    >>> trace.steps.append(NoteStep(0, "Who?", retrieved_ids=["p_1"], new_ids=["p_1"],
    ...                             note_text="p_1 says ..."))
    >>> trace.stop_reason, trace.retrieval_calls, trace.seen_ids = "max_step", 1, ["p_1"]
    >>> print(trace)  # doctest: +NORMALIZE_WHITESPACE
    note loop (policy graph): Who?
      step 0  query: Who?
              retrieved 1, new 1: p_1
              note: p_1 says ...
      stopped: max_step after 0 steps (0 rejected)
      calls: 1 retrieval, 0 LLM, 0 bad outputs; 1 passages seen
    >>> trace.to_dict()["stop_reason"]
    'max_step'
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from hipporag.types import RetrievalResult
from retrievers.note.policy import Note, Verdict

STOP_REASONS = {
    "max_step": "the iteration budget (max_step) is used up",
    "max_fail_step": "max_fail_step refined notes were rejected",
    "max_top_k": "the passage budget (max_top_k) is used up",
    "no_new_query": "the policy had no new query to ask",
}
"""Why a loop can stop, with a sentence for each."""


@dataclass(slots=True)
class NoteStep:
    """One retrieval of the loop (step 0 is the question's own retrieval).

    Attributes:
        index: 0 for the first retrieval, then 1, 2, ...
        query: The query sent to the retriever.
        seeds: Extra PPR seeds sent with it, ``{entity name or idx: weight}``.
        retrieved_ids: Passage ids the retriever returned, in rank order.
        new_ids: The ones not seen before that fit in the passage budget.
        note_text: The note written (step 0) or the refined candidate note.
        verdict: The judge's verdict (None for step 0 and for steps skipped
            because nothing new was retrieved).
        accepted: Whether this step's note became the best note.
        flags: Retrieval flags (e.g. ``"no_seeds"``) and loop markers.
        ms: Wall time of the step in milliseconds.
    """

    index: int
    query: str
    seeds: dict[str, float] = field(default_factory=dict)
    retrieved_ids: list[str] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)
    note_text: str = ""
    verdict: Verdict | None = None
    accepted: bool = True
    flags: list[str] = field(default_factory=list)
    ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "query": self.query,
            "seeds": dict(self.seeds),
            "retrieved_ids": list(self.retrieved_ids),
            "new_ids": list(self.new_ids),
            "note": self.note_text,
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "accepted": self.accepted,
            "flags": list(self.flags),
            "ms": round(self.ms, 3),
        }


@dataclass(slots=True)
class NoteTrace:
    """The full record of one run of the loop.

    Attributes:
        question: The question.
        policy: Name of the note policy.
        steps: Every step, in order.
        stop_reason: One of :data:`STOP_REASONS`.
        retrieval_calls: Calls to the retriever.
        llm_calls: Chat requests made by the policy.
        bad_outputs: Unusable model outputs (each replaced by a safe default).
        problems: One line per bad output.
        seen_ids: Every distinct passage seen, in the order first seen.
        titles: Titles of the seen passages, for printing.
        best_step: Index of the step whose note is the final best note.
    """

    question: str
    policy: str = ""
    steps: list[NoteStep] = field(default_factory=list)
    stop_reason: str = ""
    retrieval_calls: int = 0
    llm_calls: int = 0
    bad_outputs: int = 0
    problems: list[str] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    best_step: int = 0

    @property
    def n_steps(self) -> int:
        """Iterations after the first retrieval."""
        return max(0, len(self.steps) - 1)

    @property
    def n_rejected(self) -> int:
        """Refined notes the judge rejected."""
        return sum(1 for s in self.steps[1:] if not s.accepted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "policy": self.policy,
            "stop_reason": self.stop_reason,
            "n_steps": self.n_steps,
            "n_rejected": self.n_rejected,
            "best_step": self.best_step,
            "retrieval_calls": self.retrieval_calls,
            "llm_calls": self.llm_calls,
            "bad_outputs": self.bad_outputs,
            "problems": list(self.problems),
            "seen_ids": list(self.seen_ids),
            "steps": [s.to_dict() for s in self.steps],
        }

    def __str__(self) -> str:
        lines = [f"note loop (policy {self.policy}): {self.question}"]
        pad = " " * 10
        for s in self.steps:
            lines.append(f"  step {s.index}  query: {s.query}")
            if s.seeds:
                seeds = ", ".join(f"{k} ({v:.2f})" for k, v in s.seeds.items())
                lines.append(f"{pad}note seeds: {seeds}")
            names = ", ".join(self.titles.get(p, p) for p in s.new_ids) or "-"
            lines.append(f"{pad}retrieved {len(s.retrieved_ids)}, new {len(s.new_ids)}: {names}")
            if s.verdict is not None:
                mark = "accepted" if s.accepted else "rejected"
                score = f" (score {s.verdict.score:.2f})" if s.verdict.score is not None else ""
                error = f" [unusable output: {s.verdict.error}]" if s.verdict.error else ""
                lines.append(f"{pad}verdict: {mark}{score}: {s.verdict.reason}{error}")
            elif s.index > 0:
                lines.append(f"{pad}verdict: {'accepted' if s.accepted else 'rejected'}")
            note = textwrap.shorten(s.note_text.replace("\n", " "), 300) if s.note_text else "-"
            lines.append(f"{pad}note: {note}")
        lines.append(
            f"  stopped: {self.stop_reason} after {self.n_steps} steps ({self.n_rejected} rejected)"
        )
        lines.append(
            f"  calls: {self.retrieval_calls} retrieval, {self.llm_calls} LLM, "
            f"{self.bad_outputs} bad outputs; {len(self.seen_ids)} passages seen"
        )
        lines.extend(f"  problem: {p}" for p in self.problems)
        return "\n".join(lines)


@dataclass(slots=True)
class NoteResult(RetrievalResult):
    """The loop's final ranking (``hits``) plus its best note and trace.

    ``hits`` ranks the seen passages (the best note's passages first, then the
    others, each group in the order seen), cut at the ``k`` asked for;
    ``seen_ids`` always lists every passage seen.

    Example:
        >>> r = NoteResult("q", [], "note", note=Note("n"), trace=NoteTrace("q"))
        >>> r.note.text, len(r)
        ('n', 0)
    """

    note: Note | None = None
    trace: NoteTrace | None = None
    seen_ids: list[str] = field(default_factory=list)

    @property
    def retrieval_calls(self) -> int:
        return self.trace.retrieval_calls if self.trace else 0

    @property
    def llm_calls(self) -> int:
        return self.trace.llm_calls if self.trace else 0

    def to_dict(self) -> dict[str, Any]:
        out = RetrievalResult.to_dict(self)
        out["note"] = self.note.to_dict() if self.note else None
        out["trace"] = self.trace.to_dict() if self.trace else None
        out["seen_ids"] = list(self.seen_ids)
        return out


__all__ = ["STOP_REASONS", "NoteResult", "NoteStep", "NoteTrace"]

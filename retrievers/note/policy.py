"""The one interface behind which notes are written, queries proposed and notes judged.

A :class:`NotePolicy` has four roles, called by :class:`~retrievers.note.loop.NoteLoop`:

* ``first_note(question, hits)``: the note after the first retrieval;
* ``next_query(question, note, queries)``: the next query (``None`` = nothing left to ask);
* ``refine(question, note, hits)``: the best note updated with new passages;
* ``judge(question, best, candidate)``: whether the candidate improves on the best note.

Every method also gets a :class:`Meter` to count LLM calls and unusable model
outputs of the current run (policies are shared between runs and threads, so
they keep no per-question state of their own).

Two implementations ship: :class:`~retrievers.note.graph_policy.GraphNotePolicy`
(LLM-free) and :class:`~retrievers.note.llm_policy.LLMNotePolicy`.

Example:
    >>> class EchoPolicy:
    ...     name = "echo"
    ...     def first_note(self, question, hits, meter):
    ...         return Note(" ".join(h.title for h in hits), tuple(h.passage_id for h in hits))
    ...     def next_query(self, question, note, queries, meter):
    ...         return None
    ...     def refine(self, question, note, hits, meter):
    ...         return note
    ...     def judge(self, question, best, candidate, meter):
    ...         return Verdict(False, "never")
    >>> isinstance(EchoPolicy(), NotePolicy)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from hipporag.types import Hit


@dataclass(frozen=True)
class Note:
    """What the loop has learnt so far about a question.

    Attributes:
        text: The note as readable text (an LLM-written note, or the rendered
            evidence of the LLM-free policy). Given to the reader.
        passage_ids: Passages the note rests on, in the order they were added.
        facts: Facts (as text) the note holds; empty for LLM notes.
        entities: Entity names of the note, most important first.
        seeds: ``{entity_idx: weight}`` for seeding the next retrieval's PPR.
        context: Policy-private data (e.g. entity and fact ids); not printed.
    """

    text: str
    passage_ids: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    seeds: Mapping[int, float] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        """True when the note says nothing (no text and no facts)."""
        return not self.text.strip() and not self.facts

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "passage_ids": list(self.passage_ids),
            "facts": list(self.facts),
            "entities": list(self.entities),
            "seeds": {str(k): float(v) for k, v in self.seeds.items()},
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's decision on a refined note.

    Attributes:
        accept: Keep the candidate as the new best note.
        reason: One line saying why.
        score: A policy-specific strength (e.g. evidence gain); None if not scored.
        error: Set when the judge could not decide from the model output
            (the candidate is then rejected).
    """

    accept: bool
    reason: str = ""
    score: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "accept": self.accept,
            "reason": self.reason,
            "score": self.score,
            "error": self.error,
        }


@dataclass(slots=True)
class Meter:
    """Per-run counters a policy updates.

    Attributes:
        llm_calls: Chat requests made (cache hits included).
        bad_outputs: Model outputs that could not be used as asked (non-JSON
            verdict, empty note, empty query); each fell back to a safe default.
        problems: One line per bad output, for the trace.
    """

    llm_calls: int = 0
    bad_outputs: int = 0
    problems: list[str] = field(default_factory=list)

    def bad(self, role: str, what: str) -> None:
        """Record an unusable output of ``role`` (``"refine"``, ``"judge"``, ...)."""
        self.bad_outputs += 1
        self.problems.append(f"{role}: {what}")


@runtime_checkable
class NotePolicy(Protocol):
    """Writes, extends and judges notes, and proposes follow-up queries."""

    name: str

    def first_note(self, question: str, hits: Sequence[Hit], meter: Meter) -> Note:
        """The note written from the first retrieval's passages."""
        ...

    def next_query(
        self, question: str, note: Note, queries: Sequence[str], meter: Meter
    ) -> str | None:
        """A new query from the question, the best note and the queries so far.

        Return ``None`` (or an empty string) when there is nothing left to ask;
        the loop then stops with reason ``"no_new_query"``.
        """
        ...

    def refine(self, question: str, note: Note, hits: Sequence[Hit], meter: Meter) -> Note:
        """The best note updated with the new passages ``hits`` (never seen before)."""
        ...

    def judge(self, question: str, best: Note, candidate: Note, meter: Meter) -> Verdict:
        """Whether ``candidate`` improves on ``best``."""
        ...


__all__ = ["Meter", "Note", "NotePolicy", "Verdict"]

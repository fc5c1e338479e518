"""Configuration of the adaptive note loop (Adaptive-Note style iterative retrieval).

Owned by the note retriever and built on the core config mechanism
(:class:`hipporag.sections.Section`): strict construction, validation with
how-to-fix messages, dict and TOML round-trips.

The loop retrieves ``top_k`` passages for the question, writes a first note,
then repeats *propose a query, retrieve, refine the note, judge it* until one
of three budgets is used up: ``max_step`` iterations, ``max_fail_step``
rejected notes, or ``max_top_k`` distinct passages seen. The defaults are the
ones of the method's reference setup (5, 3, 1, 15).

Example:
    >>> from retrievers.note.config import NoteConfig
    >>> cfg = NoteConfig.from_dict({"max_step": 2})
    >>> cfg.top_k, cfg.max_step, cfg.max_fail_step, cfg.max_top_k
    (5, 2, 1, 15)
    >>> NoteConfig.from_toml(cfg.to_toml()) == cfg
    True
    >>> NoteConfig(top_k=10, max_top_k=5)
    Traceback (most recent call last):
    ...
    hipporag.errors.ConfigError: note.max_top_k (5) must be >= note.top_k (10)
      how to fix: the passage budget must hold at least one retrieval; raise max_top_k
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hipporag.sections import Section, check

NOTE_POLICIES = ("auto", "graph", "llm")
"""``auto`` uses the LLM policy when an LLM is configured, the graph policy otherwise."""


@dataclass(frozen=True)
class NoteConfig(Section):
    """Budgets and knobs of the note loop.

    Attributes:
        top_k: Passages retrieved per query (first retrieval and every step).
        max_step: Iterations after the first retrieval (0 = single shot plus a note).
        max_fail_step: Stop once this many refined notes were rejected.
        max_top_k: Budget of distinct passages seen; the loop never sees more.
        exclude_seen: Retrieve ``top_k`` *unseen* passages per step (through the
            retriever's ``exclude=`` when it has one, else by asking for
            ``top_k + seen`` and dropping the seen ones) instead of the plain
            top ``top_k``.
        note_seed_weight: Total weight of the PPR seeds taken from the best
            note's entities, relative to the query's own seeds (the facade counts
            1.0 as much as all linked seeds together); 0 disables them.
        max_note_seeds: At most this many note entities are used as seeds.
        policy: ``"auto"``, ``"graph"`` (LLM-free) or ``"llm"``.
        bridges_per_query: LLM-free policy: bridge entities added to each query.
        judge_threshold: LLM-free judge: evidence gain needed to accept a note.
        bridge_weight: LLM-free judge: weight of a new fact that touches a known
            bridge entity (a fact touching a question entity weighs 1).
        mention_weight: LLM-free judge: weight of a new passage that only
            mentions a question entity or bridge (no fact touching it).
        judge_bridges: LLM-free judge: how many of the best note's bridges count
            as known.
        passage_chars: LLM policy: passages are cut to this many characters in prompts.
        note_chars: LLM policy: notes are cut to this many characters.
        llm_max_tokens: LLM policy: completion budget of note and refine calls.
    """

    _name: ClassVar[str] = "note"
    top_k: int = 5
    max_step: int = 3
    max_fail_step: int = 1
    max_top_k: int = 15
    exclude_seen: bool = True
    note_seed_weight: float = 1.0
    max_note_seeds: int = 5
    policy: str = "auto"
    bridges_per_query: int = 2
    judge_threshold: float = 1.0
    bridge_weight: float = 1.0
    mention_weight: float = 0.25
    judge_bridges: int = 4
    passage_chars: int = 1200
    note_chars: int = 2000
    llm_max_tokens: int = 384

    def validate(self) -> None:
        check(
            self.top_k >= 1,
            f"note.top_k must be >= 1, got {self.top_k}",
            "retrieve at least one passage per query, e.g. 5",
        )
        check(
            self.max_step >= 0,
            f"note.max_step must be >= 0, got {self.max_step}",
            "use 0 for a single retrieval, 3 for the usual loop",
        )
        check(
            self.max_fail_step >= 1,
            f"note.max_fail_step must be >= 1, got {self.max_fail_step}",
            "1 stops at the first rejected note",
        )
        check(
            self.max_top_k >= self.top_k,
            f"note.max_top_k ({self.max_top_k}) must be >= note.top_k ({self.top_k})",
            "the passage budget must hold at least one retrieval; raise max_top_k",
        )
        check(
            self.note_seed_weight >= 0,
            f"note.note_seed_weight must be >= 0, got {self.note_seed_weight}",
            "use 0 to disable seeding with note entities",
        )
        check(self.max_note_seeds >= 0, "note.max_note_seeds must be >= 0")
        check(
            self.policy in NOTE_POLICIES,
            f"note.policy must be one of {NOTE_POLICIES}, got {self.policy!r}",
            "use 'graph' for the LLM-free policy or 'llm' with an LLM endpoint",
        )
        check(self.bridges_per_query >= 1, "note.bridges_per_query must be >= 1")
        check(
            self.judge_threshold >= 0,
            f"note.judge_threshold must be >= 0, got {self.judge_threshold}",
            "0 accepts any note; 1 needs about one new fact touching the question",
        )
        for name in ("bridge_weight", "mention_weight"):
            value = getattr(self, name)
            check(value >= 0, f"note.{name} must be >= 0, got {value}")
        check(self.judge_bridges >= 0, "note.judge_bridges must be >= 0")
        check(self.passage_chars >= 50, "note.passage_chars must be >= 50")
        check(self.note_chars >= 50, "note.note_chars must be >= 50")
        check(self.llm_max_tokens >= 16, "note.llm_max_tokens must be >= 16")


__all__ = ["NOTE_POLICIES", "NoteConfig"]

"""Prompts of the LLM note policy (first note, next query, refine, compare).

Each builder returns chat messages. Passages and notes are cut to a character
budget so prompts stay within small context windows.

Example:
    >>> msgs = next_query_messages("Who founded X?", "X was bought by Y.", ["Who founded X?"])
    >>> msgs[0]["role"], "Who founded X?" in msgs[1]["content"]
    ('system', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hipporag.types import Hit

SYSTEM = (
    "You help answer questions that need several pieces of evidence. You keep a short "
    "written note of the evidence found so far and you only state what the passages support."
)

COMPARE_SCHEMA: dict[str, Any] = {
    "title": "note_comparison",
    "type": "object",
    "properties": {
        "b_is_better": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["b_is_better"],
}
"""The compare verdict: ``{"b_is_better": bool, "reason": str}``."""


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def render_passages(hits: Sequence[Hit], limit: int) -> str:
    """Numbered passages, ``[i] title: text``, each cut to ``limit`` characters."""
    return "\n".join(f"[{i}] {h.title}: {_cut(h.text, limit)}" for i, h in enumerate(hits, start=1))


def _messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def first_note_messages(
    question: str, hits: Sequence[Hit], passage_chars: int = 1200
) -> list[dict[str, str]]:
    """Ask for a note collecting what the passages say about the question."""
    return _messages(
        f"Question: {question}\n\nPassages:\n{render_passages(hits, passage_chars)}\n\n"
        "Write a note that gathers everything in these passages that could help answer "
        "the question: the people, places or things involved, how they are related, and "
        "the exact names, dates and numbers. Leave out what does not concern the question "
        "and add nothing the passages do not say. Reply with the note only."
    )


def refine_messages(
    question: str, note: str, hits: Sequence[Hit], passage_chars: int = 1200, note_chars: int = 2000
) -> list[dict[str, str]]:
    """Ask to fold new passages into the current note."""
    return _messages(
        f"Question: {question}\n\nCurrent note:\n{_cut(note, note_chars)}\n\n"
        f"New passages:\n{render_passages(hits, passage_chars)}\n\n"
        "Update the note with whatever the new passages add towards answering the "
        "question. Keep what is useful in the current note, correct it where a new passage "
        "contradicts it, and ignore unrelated content. Reply with the updated note only."
    )


def next_query_messages(
    question: str, note: str, queries: Sequence[str], note_chars: int = 2000
) -> list[dict[str, str]]:
    """Ask for one new search query aimed at what the note still lacks."""
    asked = "\n".join(f"- {q}" for q in queries) or "- (none)"
    return _messages(
        f"Question: {question}\n\nNote so far:\n{_cut(note, note_chars)}\n\n"
        f"Searches already made:\n{asked}\n\n"
        "Which fact is still missing to answer the question? Write one new search query "
        "that would find it. It must differ from the searches above. Reply with the query "
        "alone on one line."
    )


def compare_messages(
    question: str, best: str, candidate: str, note_chars: int = 2000
) -> list[dict[str, str]]:
    """Ask whether note B is better evidence than note A, as a JSON verdict."""
    return _messages(
        f"Question: {question}\n\nNote A:\n{_cut(best, note_chars)}\n\n"
        f"Note B:\n{_cut(candidate, note_chars)}\n\n"
        "Compare the two notes as evidence for answering the question. Note B is better "
        "only if it holds more relevant, correct information than note A, for example a "
        "missing link of the reasoning or the answer itself. Reply with a JSON object and "
        'nothing else: {"b_is_better": true or false, "reason": "one short sentence"}'
    )


__all__ = [
    "COMPARE_SCHEMA",
    "SYSTEM",
    "compare_messages",
    "first_note_messages",
    "next_query_messages",
    "refine_messages",
    "render_passages",
]

"""Cleaning LLM OpenIE answers: entities and triples kept, dropped and counted.

:func:`clean_entities` and :func:`clean_triples` take the lists a model
answered (already parsed and shape-checked) and return what the index may
keep. Names lose terminal escapes and control characters
(:func:`~hipporag.sanitize.strip_controls`). Every entity and both the
subject and the object of every triple must be grounded in the *passage
text* (:class:`Grounding`); the model's own entity list is not trusted, so a
model obeying an instruction injected into the passage (naming
``Attacker Corp`` in one step and stating facts about it in the next) gets
nothing indexed that the passage does not say.

Example:
    >>> clean_entities(["Paris", " paris ", "", 3])
    (['Paris'], 2)
    >>> clean_entities(["Paris", "Attacker Corp"], "Paris is in France.")
    (['Paris'], 1)
    >>> triples, skipped, ungrounded = clean_triples(
    ...     [["Paris", "in", "France"], ["Acme", "sells", "Widgets"], ["x"]],
    ...     "Paris is in France.", ["Paris", "France"])
    >>> [t.as_tuple() for t in triples], skipped, ungrounded
    ([('Paris', 'in', 'France')], 1, 1)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hipporag.sanitize import strip_controls
from hipporag.text import normalize_entity, normalize_text
from hipporag.types import Triple

_WORD_RE = re.compile(r"\w+")


def clean_name(item: Any) -> str:
    """A name without escapes and control characters, whitespace normalised ("" if not a str)."""
    return normalize_text(strip_controls(item)) if isinstance(item, str) else ""


def clean_entities(items: Sequence[Any], content: str | None = None) -> tuple[list[str], int]:
    """Entities in answer order, normalised, without duplicates; and how many were bad.

    A bad entity is one that is not a string, is empty after normalisation,
    or (when ``content`` is given) is not grounded in the passage text;
    duplicates (same :func:`~hipporag.text.normalize_entity` form) are dropped
    without counting.
    """
    grounded = Grounding(content, ()) if content is not None else None
    result: list[str] = []
    seen: set[str] = set()
    bad = 0
    for item in items:
        name = clean_name(item)
        key = normalize_entity(name)
        if not key or (grounded is not None and not grounded(name)):
            bad += 1
        elif key not in seen:
            seen.add(key)
            result.append(name)
    return result, bad


def clean_triples(
    items: Sequence[Any], content: str, entities: Sequence[str]
) -> tuple[list[Triple], int, int]:
    """Valid, grounded, distinct triples; and how many were invalid and how many ungrounded.

    Invalid: not three strings, or an empty subject, relation or object.
    Ungrounded: the subject or the object does not occur in ``content`` (the
    passage text; ``entities``, the model's own answer, is not trusted and
    only kept for the call's signature).
    """
    grounded = Grounding(content, ())
    result: list[Triple] = []
    seen: set[tuple[str, str, str]] = set()
    skipped = ungrounded = 0
    for item in items:
        ok = isinstance(item, list) and len(item) == 3
        parts = [clean_name(x) for x in item if isinstance(x, str)] if ok else []
        if len(parts) != 3 or not parts[1] or not all(map(normalize_entity, parts[::2])):
            skipped += 1  # wrong arity, non-strings, or empty subject/relation/object
            continue
        if not (grounded(parts[0]) and grounded(parts[2])):
            ungrounded += 1  # e.g. injected by the passage: nothing of it is in the text
            continue
        triple = Triple(*parts)
        if triple.as_tuple() not in seen:
            seen.add(triple.as_tuple())
            result.append(triple)
    return result, skipped, ungrounded


class Grounding:
    """Whether a name occurs in a passage (after normalisation).

    A name is grounded when its :func:`~hipporag.text.normalize_entity` form is
    one of ``entities`` (callers pass names they trust, or none), occurs in
    the normalised passage text, or consists only of words of the passage.

    Example:
        >>> g = Grounding("Marie Curie was born in Warsaw.", [])
        >>> g("marie curie"), g("Warsaw"), g("Curie, Marie"), g("Acme Corp")
        (True, True, True, False)
    """

    def __init__(self, content: str, entities: Sequence[str]) -> None:
        self.text = " ".join(normalize_text(content).casefold().split())
        self.words = set(_WORD_RE.findall(self.text))
        self.entities = {normalize_entity(e) for e in entities} - {""}

    def __call__(self, name: str) -> bool:
        key = normalize_entity(name)
        if not key:
            return False
        if key in self.entities or key in self.text:
            return True
        words = _WORD_RE.findall(key)
        return bool(words) and all(w in self.words for w in words)


__all__ = ["Grounding", "clean_entities", "clean_name", "clean_triples"]

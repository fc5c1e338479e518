"""Cleaning LLM OpenIE answers: entities and triples kept, dropped and counted.

:func:`clean_entities` and :func:`clean_triples` take the lists a model
answered (already parsed and shape-checked) and return what the index may
keep. A triple is kept only when its subject or its object is grounded in
the passage (:class:`Grounding`): a model obeying an instruction injected
into the passage produces facts about something else, and those are dropped.

Example:
    >>> clean_entities(["Paris", " paris ", "", 3])
    (['Paris'], 2)
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

from hipporag.text import normalize_entity, normalize_text
from hipporag.types import Triple

_WORD_RE = re.compile(r"\w+")


def clean_entities(items: Sequence[Any]) -> tuple[list[str], int]:
    """Entities in answer order, normalised, without duplicates; and how many were bad.

    A bad entity is one that is not a string or is empty after normalisation;
    duplicates (same :func:`~hipporag.text.normalize_entity` form) are dropped
    without counting.
    """
    result: list[str] = []
    seen: set[str] = set()
    bad = 0
    for item in items:
        name = normalize_text(item) if isinstance(item, str) else ""
        key = normalize_entity(name)
        if not key:
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
    Ungrounded: neither subject nor object occurs in ``content`` or ``entities``.
    """
    grounded = Grounding(content, entities)
    result: list[Triple] = []
    seen: set[tuple[str, str, str]] = set()
    skipped = ungrounded = 0
    for item in items:
        ok = isinstance(item, list) and len(item) == 3
        parts = [normalize_text(x) for x in item if isinstance(x, str)] if ok else []
        if len(parts) != 3 or not parts[1] or not all(map(normalize_entity, parts[::2])):
            skipped += 1  # wrong arity, non-strings, or empty subject/relation/object
            continue
        if not (grounded(parts[0]) or grounded(parts[2])):
            ungrounded += 1  # e.g. injected by the passage: nothing of it is in the text
            continue
        triple = Triple(*parts)
        if triple.as_tuple() not in seen:
            seen.add(triple.as_tuple())
            result.append(triple)
    return result, skipped, ungrounded


class Grounding:
    """Whether a name occurs in a passage or its entity list (after normalisation).

    A name is grounded when its :func:`~hipporag.text.normalize_entity` form is
    one of the entities', occurs in the normalised passage text, or consists only
    of words of the passage.

    Example:
        >>> g = Grounding("Marie Curie was born in Warsaw.", ["Marie Curie"])
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


__all__ = ["Grounding", "clean_entities", "clean_triples"]

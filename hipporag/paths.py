"""Steps of an explanation path, each naming the edge it follows.

A path from a seed to a passage crosses three kinds of edges: a *fact* edge
between two entities (a triple ``subject -[relation]-> object``), a *synonymy*
edge between two entities whose names are close, and a *mention* edge from an
entity to a passage that mentions it. :class:`PathStep` records one crossing;
:func:`path_text` writes a whole path with the relations named, in the
direction of the fact (``<-[...]-`` when the path walks a fact backwards).

Example:
    >>> steps = [PathStep("gavin green", "shiv chawrasia", "fact", "plays for"),
    ...          PathStep("shiv chawrasia", "india", "fact", "born in", reverse=True),
    ...          PathStep("india", "[Climate of India]", "mention")]
    >>> path_text(["gavin green", "shiv chawrasia", "india", "[Climate of India]"], steps)
    'gavin green -[plays for]-> shiv chawrasia <-[born in]- india -> [Climate of India]'
    >>> path_text(["a", "b"], [])  # no steps known: plain arrows
    'a -> b'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STEP_KINDS = ("fact", "synonymy", "mention")
"""Edge kinds a path step may follow."""


@dataclass(frozen=True, slots=True)
class PathStep:
    """One edge of an explanation path.

    Attributes:
        src: Name of the node the step leaves (an entity name or ``[Title]``).
        dst: Name of the node it reaches.
        kind: ``"fact"``, ``"synonymy"`` or ``"mention"`` (entity to passage).
        relation: The fact's relation text (``None`` for other kinds).
        reverse: True when the fact reads ``dst -[relation]-> src`` (the path walks
            it from object to subject).
        others: How many other facts join the same two entities (not shown).
    """

    src: str
    dst: str
    kind: str
    relation: str | None = None
    reverse: bool = False
    others: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the form in ``--json`` output)."""
        return {
            "src": self.src,
            "dst": self.dst,
            "kind": self.kind,
            "relation": self.relation,
            "reverse": self.reverse,
            "others": self.others,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PathStep:
        """The inverse of :meth:`to_dict`.

        Example:
            >>> s = PathStep("a", "b", "fact", "likes")
            >>> PathStep.from_dict(s.to_dict()) == s
            True
        """
        return cls(
            str(data["src"]),
            str(data["dst"]),
            str(data["kind"]),
            data.get("relation"),
            bool(data.get("reverse", False)),
            int(data.get("others", 0)),
        )

    def arrow(self) -> str:
        """The arrow between the two names: ``-[rel]->``, ``<-[rel]-``, ``~`` or ``->``.

        Example:
            >>> PathStep("a", "b", "synonymy").arrow()
            '~'
        """
        if self.kind == "fact" and self.relation:
            return f"<-[{self.relation}]-" if self.reverse else f"-[{self.relation}]->"
        return "~" if self.kind == "synonymy" else "->"


def path_text(path: Sequence[str], steps: Sequence[PathStep]) -> str:
    """The path as one line, each fact edge naming its relation.

    ``steps`` must be one per edge of ``path`` (``len(path) - 1``); otherwise the
    path is written with plain arrows.
    """
    if not path:
        return ""
    if len(steps) != len(path) - 1:
        return " -> ".join(path)
    out = [path[0]]
    for step, name in zip(steps, path[1:], strict=True):
        out.append(f"{step.arrow()} {name}")
    return " ".join(out)


__all__ = ["STEP_KINDS", "PathStep", "path_text"]

"""HTML of an explanation path whose fact edges name their relation.

Example:
    >>> from hipporag.paths import PathStep
    >>> path_html(["a", "b"], [PathStep("a", "b", "fact", "likes")])
    '<i>a</i> <span class="muted">-[likes]→</span> <i>b</i>'
    >>> path_html(["a", "[T]"], [])
    '<i>a</i> → <i>[T]</i>'
"""

from __future__ import annotations

from collections.abc import Sequence

from hipporag.display._html import esc
from hipporag.paths import PathStep


def _arrow(step: PathStep) -> str:
    if step.kind == "fact" and step.relation:
        rel = esc(step.relation)
        text = f"←[{rel}]-" if step.reverse else f"-[{rel}]→"
        return f'<span class="muted">{text}</span>'
    return "≈" if step.kind == "synonymy" else "→"


def path_html(path: Sequence[str], steps: Sequence[PathStep]) -> str:
    """Node names in italics joined by arrows; fact arrows carry the relation."""
    names = [f"<i>{esc(n)}</i>" for n in path]
    if len(steps) != len(path) - 1:
        return " → ".join(names)
    out = names[:1]
    for step, name in zip(steps, names[1:], strict=True):
        out.append(f"{_arrow(step)} {name}")
    return " ".join(out)


__all__ = ["path_html"]

"""HTML building blocks shared by the display views: escaping, number formats, tables.

Every piece of text from data goes through :func:`esc`.

Example:
    >>> value_html({"a": [1, 2], "b": "<x>"}).count("<tr>")
    2
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

CSS = """
<style>
.hipporag {font-family: system-ui, sans-serif; font-size: 13px; line-height: 1.4;
  max-width: 1100px}
.hipporag h4 {margin: 4px 0 6px 0; font-size: 15px}
.hipporag table {border-collapse: collapse; margin: 4px 0 8px 0}
.hipporag th, .hipporag td {border-bottom: 1px solid #ddd; padding: 3px 8px;
  text-align: left; vertical-align: top}
.hipporag th {background: rgba(127,127,127,0.12)}
.hipporag .muted {color: #777}
.hipporag .chip {display: inline-block; border: 1px solid #9ab; border-radius: 9px;
  padding: 0 6px; margin: 1px 2px; font-size: 12px}
.hipporag .flag {display: inline-block; background: #fde3c8; color: #7a3b00;
  border-radius: 3px; padding: 0 5px; margin: 1px 2px; font-size: 12px}
.hipporag .bar {display: inline-block; height: 8px; background: #4a8fd8; margin-left: 4px}
.hipporag .card {border: 1px solid #ccc; border-radius: 6px; padding: 6px 10px;
  margin: 6px 0}
.hipporag details summary {cursor: pointer}
</style>
"""

MAX_INLINE = 280  # characters shown before a long text folds into <details>


def esc(value: Any) -> str:
    """HTML-escape ``str(value)`` (quotes included).

    Example:
        >>> esc('<a href="x">')
        '&lt;a href=&quot;x&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def fmt_number(value: Any) -> str:
    """Numbers for humans: ints with thousands separators, floats to 4 significant digits.

    Example:
        >>> fmt_number(12345), fmt_number(0.123456), fmt_number(None)
        ('12,345', '0.1235', '—')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def fmt_bytes(n: int | float) -> str:
    """A byte count as B/KB/MB/GB.

    Example:
        >>> fmt_bytes(3_158_016)
        '3.0 MB'
    """
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover


def fold_text(value: str, limit: int = MAX_INLINE) -> str:
    """Escaped text; long text shows a preview and folds the rest."""
    if len(value) <= limit:
        return esc(value)
    return f"<details><summary>{esc(value[:limit].rstrip())}…</summary>{esc(value)}</details>"


def flags_html(flags: Sequence[str]) -> str:
    return "".join(f'<span class="flag">{esc(f)}</span>' for f in flags)


def chips_html(items: Sequence[Any]) -> str:
    return "".join(f'<span class="chip">{esc(x)}</span>' for x in items)


def kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """Key/value rows; values are HTML already."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def value_html(value: Any, depth: int = 0) -> str:
    """Any JSON-like value as HTML: dicts as key/value tables, lists of dicts as tables.

    Example:
        >>> value_html({"a": [1, 2], "b": "<x>"}).count("<tr>")
        2
    """
    if value is None or isinstance(value, (bool, int, float)):
        return esc(fmt_number(value))
    if isinstance(value, str):
        return fold_text(value)
    if isinstance(value, Mapping):
        if not value:
            return '<span class="muted">{}</span>'
        if depth >= 4:
            return fold_text(repr(dict(value)))
        return kv_table([(str(k), value_html(v, depth + 1)) for k, v in value.items()])
    if isinstance(value, Sequence):
        items = list(value)
        if not items:
            return '<span class="muted">none</span>'
        if all(isinstance(x, Mapping) for x in items) and depth < 4:
            cols: list[str] = []
            for x in items:
                cols.extend(str(k) for k in x if str(k) not in cols)
            head = "".join(f"<th>{esc(c)}</th>" for c in cols)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{value_html(x.get(c), depth + 1)}</td>" for c in cols)
                + "</tr>"
                for x in items
            )
            return f"<table><tr>{head}</tr>{body}</table>"
        if all(isinstance(x, (str, int, float)) for x in items):
            return chips_html([fmt_number(x) if not isinstance(x, str) else x for x in items])
        return "<ol>" + "".join(f"<li>{value_html(x, depth + 1)}</li>" for x in items) + "</ol>"
    return esc(repr(value))


__all__ = [
    "CSS",
    "MAX_INLINE",
    "chips_html",
    "esc",
    "flags_html",
    "fmt_bytes",
    "fmt_number",
    "fold_text",
    "kv_table",
    "value_html",
]  # fmt: skip

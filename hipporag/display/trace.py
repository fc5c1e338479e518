"""HTML view of an Adaptive-Note loop trace (a plain dict, as ``NoteTrace.to_dict()`` gives).

Example:
    >>> "Step 0" in trace_html({"question": "q", "steps": [{"query": "q", "note": "n"}]})
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hipporag.display._html import (
    CSS,
    chips_html,
    esc,
    flags_html,
    fmt_number,
    fold_text,
    kv_table,
    value_html,
)

_STEP_KEYS = ("steps", "rounds", "iterations", "history")
_SUMMARY_KEYS = (
    "policy",
    "stop_reason",
    "n_steps",
    "n_rejected",
    "best_step",
    "retrieval_calls",
    "llm_calls",
    "bad_outputs",
)
_STEP_SHOWN = ("index", "query", "seeds", "retrieved_ids", "new_ids", "note", "verdict")
_STEP_SHOWN += ("accepted", "flags", "ms")


def _passages(ids: Sequence[str], titles: Mapping[str, str], new: set[str]) -> str:
    if not ids:
        return '<span class="muted">none</span>'
    return "".join(
        f'<span class="chip" title="{esc(p)}"'
        + (' style="border-color:#2a2;font-weight:600"' if p in new else "")
        + f">{esc(titles.get(p, p))}</span>"
        for p in ids
    )


def _step_html(step: Mapping[str, Any], titles: Mapping[str, str], best: Any) -> str:
    idx = step.get("index", "?")
    badge = ""
    if "accepted" in step and idx != 0:
        badge = (
            '<span class="chip">accepted</span>'
            if step["accepted"]
            else '<span class="flag">rejected</span>'
        )
    if best is not None and idx == best:
        badge += '<span class="chip" style="border-color:#2a2">best note</span>'
    rows: list[tuple[str, str]] = [("query", esc(step.get("query", "")))]
    seeds = step.get("seeds") or {}
    if seeds:
        rows.append(
            ("note seeds", chips_html([f"{k} ({fmt_number(v)})" for k, v in dict(seeds).items()]))
        )
    new = set(step.get("new_ids") or [])
    rows.append(
        (
            f"retrieved {len(step.get('retrieved_ids') or [])}, new {len(new)}",
            _passages(list(step.get("retrieved_ids") or []), titles, new),
        )
    )
    verdict = step.get("verdict")
    if isinstance(verdict, Mapping):
        score = verdict.get("score")
        text = esc(verdict.get("reason", ""))
        if score is not None:
            text = f"score {esc(fmt_number(score))}: {text}"
        if verdict.get("error"):
            text += f" {flags_html(['unusable output: ' + str(verdict['error'])])}"
        rows.append(("verdict", text))
    note = str(step.get("note") or "")
    rows.append(
        ("note", f'<div style="white-space:pre-wrap">{fold_text(note, 600)}</div>' if note else "—")
    )
    if step.get("flags"):
        rows.append(("flags", flags_html(step["flags"])))
    extra = {k: v for k, v in step.items() if k not in _STEP_SHOWN}
    rows.extend((k, value_html(v, 2)) for k, v in extra.items())
    ms = step.get("ms")
    took = f' <span class="muted">{esc(fmt_number(ms))} ms</span>' if ms is not None else ""
    return f'<div class="card"><b>Step {esc(idx)}</b> {badge}{took}{kv_table(rows)}</div>'


def trace_html(trace: Mapping[str, Any], titles: Mapping[str, str] | None = None) -> str:
    """An HTML view of a note-loop trace given as a plain dict (``NoteTrace.to_dict()``).

    Shows the question, a summary (policy, why it stopped, calls), then one card
    per step: query, note seeds, retrieved passages (new ones in bold), the
    judge's verdict and the note. Keys it does not know are rendered
    generically, so new trace fields show up without changes here.

    Args:
        trace: the trace as a JSON-like dict (``question``, ``steps``, ...).
        titles: passage id -> title, to show titles instead of ids.

    Example:
        >>> html = trace_html({"question": "q?", "stop_reason": "max_step", "steps": [
        ...     {"index": 0, "query": "q?", "retrieved_ids": ["p_1"], "new_ids": ["p_1"],
        ...      "note": "Paris <capital>"}]}, titles={"p_1": "Paris"})
        >>> "Step 0" in html and "&lt;capital&gt;" in html and ">Paris<" in html
        True
    """
    trace = dict(trace)
    titles = dict(titles or {})
    title_key = next((k for k in ("question", "query") if trace.get(k)), None)
    title = trace[title_key] if title_key else "note loop"
    out = [f'{CSS}<div class="hipporag"><h4>Note loop: {esc(title)}</h4>']
    summary = [
        (k.replace("_", " "), value_html(trace[k]))
        for k in _SUMMARY_KEYS
        if k in trace and trace[k] not in (None, "")
    ]
    if summary:
        out.append(kv_table(summary))
    step_key = next((k for k in _STEP_KEYS if isinstance(trace.get(k), list)), None)
    if step_key:
        steps = trace[step_key]
        for i, step in enumerate(steps):
            if isinstance(step, Mapping):
                out.append(_step_html({"index": i, **step}, titles, trace.get("best_step")))
            else:
                out.append(f'<div class="card"><b>Step {i}</b> {value_html(step)}</div>')
        if not steps:
            out.append('<p class="muted">no steps</p>')
    if trace.get("problems"):
        out.append("<b>Problems</b>" + value_html(list(trace["problems"])))
    if trace.get("seen_ids"):
        seen = list(trace["seen_ids"])
        out.append(
            f"<details><summary>{len(seen)} passages seen</summary>"
            f"{_passages(seen, titles, set())}</details>"
        )
    known = {title_key, step_key, "problems", "seen_ids", *_SUMMARY_KEYS}
    rest = {k: v for k, v in trace.items() if k not in known}
    if rest:
        out.append(f"<details><summary>more</summary>{value_html(rest)}</details>")
    out.append("</div>")
    return "".join(out)


__all__ = ["trace_html"]

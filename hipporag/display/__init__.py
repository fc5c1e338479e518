"""Rich HTML views for Jupyter: an index summary, a retrieval result, a note-loop trace.

Objects call these from ``_repr_html_`` (``Index``, ``RetrievalResult``, the
note-loop trace), so displaying them in a notebook shows a readable card. All
text coming from data (titles, passages, entity names, queries) is
HTML-escaped. The functions only read plain attributes and dicts, so this
module imports nothing outside the core.

Example:
    >>> from hipporag.types import Hit, RetrievalResult
    >>> html = result_html(RetrievalResult("who <b>?", [Hit("p1", "T", "x & y", 0.5, 1)], "graph"))
    >>> "who &lt;b&gt;?" in html and "x &amp; y" in html
    True
    >>> "<td" in trace_html({"question": "q", "steps": [{"query": "q", "note": "n"}]})
    True
"""

from __future__ import annotations

import math
from typing import Any

from hipporag.display._html import (
    CSS,
    MAX_INLINE,
    chips_html,
    esc,
    flags_html,
    fmt_bytes,
    fmt_number,
    fold_text,
    kv_table,
    value_html,
)
from hipporag.display.path import path_html
from hipporag.display.shapes import HitLike, IndexLike, ResultLike
from hipporag.display.trace import trace_html

# -- index -----------------------------------------------------------------


def index_summary(index: IndexLike) -> dict[str, Any]:
    """What an index holds: counts, main settings, on-disk sizes (from its meta file).

    Example:
        >>> from hipporag.index import Index
        >>> index_summary(Index.open(DEMO_INDEX))["sizes"]["total"] > 0
        True
    """
    meta = index.meta
    counts = dict(meta.get("counts", {}))
    sizes: dict[str, int] = {"database": 0, "arrays": 0, "hnsw": 0}
    for name, entry in dict(meta.get("files", {})).items():
        # v2 manifests list {"path", "size", "checksum"} per logical file; v1 a size.
        size = entry.get("size", 0) if isinstance(entry, dict) else entry
        group = name.split("/", 1)[0] if "/" in name else "database"
        n = size.get("size", 0) if isinstance(size, dict) else size  # format 2: {path, size, ...}
        sizes[group if group in sizes else "database"] += int(n)
    sizes["total"] = sum(sizes.values())
    cfg = dict(meta.get("config", {}))
    graph_cfg = dict(cfg.get("graph", {}))
    openie = dict(cfg.get("openie", {}))
    settings = {
        "embedding model": dict(meta.get("embedding", {})).get("model"),
        "embedding dim": dict(meta.get("embedding", {})).get("dim"),
        "openie": openie.get("kind"),
        "openie source": openie.get("path") or openie.get("spacy_model")
        if openie.get("kind") != "llm"
        else dict(openie.get("llm", {})).get("model"),
        "synonymy threshold": graph_cfg.get("synonymy_threshold"),
        "synonymy k": graph_cfg.get("synonymy_k"),
        "chunking": _chunking(dict(cfg.get("chunking", {}))),
    }
    return {
        "path": str(index.path),
        "format_version": meta.get("format_version"),
        "counts": counts,
        "settings": settings,
        "sizes": sizes,
        "library_versions": dict(meta.get("library_versions", {})),
        "timings_s": dict(meta.get("timings_s", {})),
    }


def index_html(index: IndexLike) -> str:
    """An HTML card summarising an index (what ``Index._repr_html_`` shows).

    Example:
        >>> from hipporag.index import Index
        >>> "</" in index_html(Index.open(DEMO_INDEX))
        True
    """
    s = index_summary(index)
    c = s["counts"]
    edges = dict(c.get("edges", {}))
    count_rows = [
        (key, esc(fmt_number(c.get(key))))
        for key in ("passages", "entities", "facts", "fact_provenance", "mentions", "graph_nodes")
        if key in c
    ]
    count_rows += [(f"edges: {k}", esc(fmt_number(v))) for k, v in edges.items()]
    for key in ("passages_without_triples", "skipped_triples", "empty_arguments"):
        if c.get(key):
            count_rows.append((key.replace("_", " "), esc(fmt_number(c[key]))))
    setting_rows = [(k, esc(fmt_number(v))) for k, v in s["settings"].items() if v is not None]
    size_rows = [(k, esc(fmt_bytes(v))) for k, v in s["sizes"].items()]
    versions = ", ".join(f"{k} {v}" for k, v in s["library_versions"].items())
    return (
        f'{CSS}<div class="hipporag"><h4>HippoRAG index '
        f'<span class="muted">{esc(s["path"])}</span></h4>'
        '<div style="display:flex; gap:24px; flex-wrap:wrap">'
        f"<div><b>Counts</b>{kv_table(count_rows)}</div>"
        f"<div><b>Settings</b>{kv_table(setting_rows)}</div>"
        f"<div><b>Size on disk</b>{kv_table(size_rows)}</div></div>"
        f'<div class="muted">format v{esc(s["format_version"])}; built with {esc(versions)}'
        "</div></div>"
    )


# -- retrieval results -------------------------------------------------------


def _chunking(c: dict[str, Any]) -> str:
    if not c.get("enabled", bool(c.get("max_words"))):
        return "off"
    if c.get("max_words"):
        return f"{c['max_words']} words"
    return f"{c.get('max_tokens') or 'model window'} tokens, overlap {c.get('overlap_tokens', 0)}"


def _bar(score: float, top: float) -> str:
    if top <= 0 or not math.isfinite(score) or score <= 0:
        return ""
    width = max(1, round(80 * min(score / top, 1.0)))
    return f'<span class="bar" style="width:{width}px"></span>'


def _why(hit: HitLike) -> str:
    e = hit.explanation
    if e is None:
        return '<span class="muted">no explanation</span>'
    parts = []
    scores = []
    if e.dense_score is not None:
        scores.append(f"dense {esc(fmt_number(float(e.dense_score)))}")
    if e.ppr_score is not None:
        scores.append(f"PPR {esc(fmt_number(float(e.ppr_score)))}")
    if scores:
        parts.append(" · ".join(scores))
    if e.connecting_entities:
        parts.append("via " + chips_html(e.connecting_entities[:8]))
    if e.path:
        parts.append("path: " + path_html(e.path, e.steps))
    if e.flags:
        parts.append(flags_html(e.flags))
    return "<br>".join(parts) or '<span class="muted">—</span>'


def _source(hit: HitLike) -> str:
    """Document id and character span, when the hit is a chunk of a document."""
    out = ""
    if hit.doc_id and hit.doc_id != hit.passage_id:
        out += f" · doc {esc(hit.doc_id)}"
    if hit.span:
        out += f" · chars {esc(hit.span[0])}–{esc(hit.span[1])}"
    return out


def _meta(metadata: dict[str, Any]) -> str:
    """Metadata as ``key: value`` chips (empty when there is none)."""
    if not metadata:
        return ""
    items = [
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in sorted(metadata.items())
    ]
    return "<br>" + chips_html(items[:12])


def documents_html(result: Any, max_text: int = MAX_INLINE) -> str:
    """An HTML card of documents (``retrieve(..., group_by="document")``) and their chunks.

    Example:
        >>> from hipporag.grouping import group_by_document
        >>> from hipporag.types import Hit, RetrievalResult
        >>> r = RetrievalResult("q", [Hit("d#0", "T", "a <b>", 1.0, 1, doc_id="d")], "dense")
        >>> "a &lt;b&gt;" in documents_html(group_by_document(r))
        True
    """
    top = max((d.score for d in result.documents if math.isfinite(d.score)), default=0.0)
    rows = "".join(
        f"<tr><td>{esc(d.rank)}</td>"
        f"<td>{esc(fmt_number(float(d.score)))}{_bar(float(d.score), top)}</td>"
        f'<td><b>{esc(d.title)}</b> <span class="muted">{esc(d.doc_id)}</span>{_meta(d.metadata)}'
        + "".join(
            f"<br>{fold_text(c.text, max_text)}"
            f'<span class="muted">{_source(c) or " · " + esc(c.passage_id)}</span>'
            for c in d.chunks
        )
        + "</td></tr>"
        for d in result.documents
    )
    return (
        f'{CSS}<div class="hipporag"><h4>{esc(result.query)}</h4>'
        f'<div class="muted">mode <b>{esc(result.mode)}</b> · {len(result.documents)} documents'
        f" {flags_html(result.flags)}</div>"
        f"<table><tr><th>#</th><th>score</th><th>document</th></tr>{rows}</table></div>"
    )


def result_html(result: ResultLike, max_text: int = MAX_INLINE) -> str:
    """An HTML card of ranked hits with scores, seeds and explanations.

    Args:
        result: the retrieval result.
        max_text: characters of passage text shown before it folds.

    Example:
        >>> from hipporag.types import Hit, RetrievalResult
        >>> "1" in result_html(RetrievalResult("q", [Hit("p", "T", "text", 1.0, 1)], "dense"))
        True
    """
    seeds: dict[tuple[str, str], Any] = {}
    for hit in result.hits:
        if hit.explanation:
            for seed in hit.explanation.seeds:
                seeds.setdefault((seed.kind, seed.node), seed)
    top = max((h.score for h in result.hits if math.isfinite(h.score)), default=0.0)
    rows = "".join(
        f"<tr><td>{esc(h.rank)}</td>"
        f"<td>{esc(fmt_number(float(h.score)))}{_bar(float(h.score), top)}</td>"
        f"<td><b>{esc(h.title)}</b><br>{fold_text(h.text, max_text)}"
        f'<br><span class="muted">{esc(h.passage_id)}{_source(h)}</span>{_meta(h.metadata)}</td>'
        f"<td>{_why(h)}</td></tr>"
        for h in result.hits
    )
    timings = ""
    if result.timings_ms:
        detail = ", ".join(f"{k} {v:.1f} ms" for k, v in result.timings_ms.items())
        total = result.timings_ms.get("total", sum(result.timings_ms.values()))
        timings = f'<span title="{esc(detail)}">{esc(f"{total:.0f} ms")}</span>'
    out = [
        f'{CSS}<div class="hipporag"><h4>{esc(result.query)}</h4>',
        f'<div class="muted">mode <b>{esc(result.mode)}</b> · {len(result.hits)} hits'
        + (f" · {timings}" if timings else "")
        + f" {flags_html(result.flags)}</div>",
    ]
    if seeds:
        ranked = sorted(seeds.values(), key=lambda s: -float(s.weight))
        seed_rows = "".join(
            f"<tr><td>{esc(s.node)}</td><td>{esc(s.kind)}</td>"
            f"<td>{esc(fmt_number(float(s.weight)))}</td><td>{esc(s.source)}</td></tr>"
            for s in ranked[:20]
        )
        more = f" (top 20 of {len(ranked)})" if len(ranked) > 20 else ""
        out.append(
            f"<details><summary>Seeds: {len(ranked)}{esc(more)}</summary><table>"
            "<tr><th>node</th><th>kind</th><th>weight</th><th>source</th></tr>"
            f"{seed_rows}</table></details>"
        )
    if rows:
        out.append(
            f"<table><tr><th>#</th><th>score</th><th>passage</th><th>why</th></tr>{rows}</table>"
        )
    else:
        out.append('<p class="muted">no hits</p>')
    out.append("</div>")
    return "".join(out)


__all__ = [
    "esc",
    "fmt_bytes",
    "fmt_number",
    "index_html",
    "index_summary",
    "result_html",
    "trace_html",
    "value_html",
]

"""What a fact edge of the graph stands for: its relations, triples and supporting passages.

A fact edge joins two entities that appear as subject and object of at least
one live fact. The graph stores only its weight; this module reads, for every
such entity pair, the facts behind it from the tables, so that exports
(GraphML, networkx, igraph, Parquet views) can carry them as edge attributes:

* ``relation``: the distinct relation texts, in fact order, joined by `` | ``
  (``""`` on edges that are not fact edges);
* ``facts``: a JSON array of ``[subject, relation, object]`` triples (the
  direction of each fact; the exported edge itself is undirected);
* ``passage_ids``: a JSON array of the ids of the passages the facts were
  extracted from, sorted.

JSON text keeps the attributes scalar, as GraphML requires; read them back
with ``json.loads``.

Example:
    >>> import json
    >>> from hipporag.index.reader import Index
    >>> frame = fact_edges(Index.open(DEMO_INDEX))
    >>> frame.columns
    ['src', 'dst', 'relation', 'facts', 'passage_ids']
    >>> row = frame.row(0, named=True)
    >>> row["src"] < row["dst"], len(json.loads(row["passage_ids"])) > 0
    (True, True)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

FACT_EDGE_COLUMNS = ("relation", "facts", "passage_ids")
"""Edge attributes added by :func:`with_fact_edges`."""

_EMPTY = {"relation": "", "facts": "[]", "passage_ids": "[]"}


def fact_edges(index: Any) -> pl.DataFrame:
    """One row per entity pair joined by live facts: ``src, dst`` (src <= dst) and the attributes."""
    import polars as pl

    pair = "least(f.subject_idx, f.object_idx) AS src, greatest(f.subject_idx, f.object_idx) AS dst"
    rows = index.sql(
        f"""
        WITH triples AS (
            SELECT {pair}, list(t.subject ORDER BY f.fact_idx) AS subjects,
                   list(f.relation ORDER BY f.fact_idx) AS relations,
                   list(t.object ORDER BY f.fact_idx) AS objects
            FROM facts f JOIN fact_triples t ON t.fact_idx = f.fact_idx
            GROUP BY 1, 2
        ), sources AS (
            SELECT {pair}, list_sort(list_distinct(list(p.passage_id))) AS pids
            FROM facts f JOIN fact_provenance fp ON fp.fact_idx = f.fact_idx
                         JOIN passages p ON p.passage_idx = fp.passage_idx
            GROUP BY 1, 2
        )
        SELECT t.src, t.dst, t.subjects, t.relations, t.objects, s.pids
        FROM triples t LEFT JOIN sources s ON s.src = t.src AND s.dst = t.dst
        ORDER BY 1, 2
        """
    )
    out: dict[str, list[Any]] = {"src": [], "dst": [], **{c: [] for c in FACT_EDGE_COLUMNS}}
    for src, dst, subjects, relations, objects, pids in rows.iter_rows():
        out["src"].append(int(src))
        out["dst"].append(int(dst))
        out["relation"].append(" | ".join(dict.fromkeys(relations)))
        triples = [list(t) for t in zip(subjects, relations, objects, strict=True)]
        out["facts"].append(json.dumps(triples, ensure_ascii=False))
        out["passage_ids"].append(json.dumps(list(pids or []), ensure_ascii=False))
    schema = {"src": pl.Int64, "dst": pl.Int64, **{c: pl.Utf8 for c in FACT_EDGE_COLUMNS}}
    return pl.DataFrame(out, schema=schema)


def with_fact_edges(index: Any, edges: pl.DataFrame) -> pl.DataFrame:
    """``edges`` (``src, dst, ...``, src <= dst) with the :data:`FACT_EDGE_COLUMNS` added.

    Edges that are not fact edges get ``""``, ``"[]"`` and ``"[]"``.
    """
    import polars as pl

    if edges.height == 0:
        return edges.with_columns(*(pl.lit(v).alias(k) for k, v in _EMPTY.items()))
    facts = fact_edges(index)
    joined = edges.join(facts, on=["src", "dst"], how="left", maintain_order="left")
    return joined.with_columns(*(pl.col(k).fill_null(v) for k, v in _EMPTY.items()))


def fact_attributes(index: Any) -> dict[tuple[int, int], dict[str, str]]:
    """``{(src, dst): {relation, facts, passage_ids}}`` for every fact edge (src <= dst)."""
    return {
        (int(r["src"]), int(r["dst"])): {k: r[k] for k in FACT_EDGE_COLUMNS}
        for r in fact_edges(index).iter_rows(named=True)
    }


__all__ = ["FACT_EDGE_COLUMNS", "fact_attributes", "fact_edges", "with_fact_edges"]

"""The index as analysis objects: networkx / igraph graphs, polars frames, GraphML and Parquet.

Node ids are the index's graph node ids: entities ``0..E-1`` (``entity_idx``),
passages ``E + passage_idx``. Every node carries

* ``kind``: ``"entity"`` or ``"passage"``;
* ``name``: the entity name or the passage title;
* ``ref``: the ``entity_id`` or the ``passage_id``;
* ``n_passages``: passages mentioning the entity (``0`` for passage nodes);
* ``text``: the passage text (passage nodes only, when ``include_text=True``).

Edges are undirected; parallel edges of different kinds between the same two
nodes are merged into one edge, as in the retrieval graph. Every edge carries

* ``kinds``: the kinds present, comma-separated in a fixed order
  (``"fact"``, ``"passage_entity"``, ``"synonymy"``), e.g. ``"fact,synonymy"``;
* ``weight``: the summed weight (the weight PPR walks on);
* ``w_fact``, ``w_passage_entity``, ``w_synonymy``: the weight of each kind
  (``0.0`` when that kind is absent);
* ``relation``, ``facts``, ``passage_ids``: on fact edges, the relations, the
  triples and the supporting passages behind them (see
  :mod:`hipporag.index.factedges`; ``""``/``"[]"`` on other edges).

With ``multigraph=True`` :func:`to_networkx` instead keeps one edge per kind
(a ``networkx.MultiGraph`` keyed by kind, attributes ``kind`` and ``weight``).

Example:
    >>> import tempfile
    >>> from hipporag.index.reader import Index
    >>> idx = Index.open(DEMO_INDEX)
    >>> g = to_networkx(idx)
    >>> g.nodes[0]["kind"], g.graph["n_entities"] == idx.n_entities
    ('entity', True)
    >>> out = tempfile.mkdtemp()
    >>> export_graphml(idx, f"{out}/graph.graphml").name
    'graph.graphml'
    >>> sorted(export_parquet(idx, f"{out}/tables"))
    ['edges', 'entities', 'fact_provenance', 'facts', 'mentions', 'passages']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hipporag.index.factedges import fact_attributes, with_fact_edges
from hipporag.index.format import EDGE_KINDS
from hipporag.index.sqlview import SQLView

if TYPE_CHECKING:  # pragma: no cover
    import igraph
    import networkx as nx
    import polars as pl


WEIGHT_COLUMNS = tuple(f"w_{k}" for k in EDGE_KINDS)


def tables(index: SQLView) -> dict[str, pl.DataFrame]:
    """All index tables as polars DataFrames, by name (see :meth:`Index.tables`).

    Example:
        >>> from hipporag.index.reader import Index
        >>> frames = tables(Index.open(DEMO_INDEX))
        >>> frames["entities"].sort("n_passages", descending=True).head(3).height
        3
        >>> frames["entities"].columns
        ['entity_idx', 'entity_id', 'name', 'n_passages']
    """
    return index.tables()


def _has_doc_columns(index: SQLView) -> bool:
    rows = index.sql(
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'passages' "
        "AND table_catalog = current_database() AND column_name IN ('doc_id', 'metadata')"
    )
    return int(rows["n"][0]) == 2


def node_frame(index: SQLView, include_text: bool = False) -> pl.DataFrame:
    """One row per graph node: ``node, kind, name, ref, n_passages`` (and ``text``).

    Passage nodes also carry ``doc_id`` and ``metadata`` (JSON text; null on entities).

    Example:
        >>> from hipporag.index.reader import Index
        >>> import polars as pl
        >>> idx = Index.open(DEMO_INDEX)
        >>> node_frame(idx).filter(pl.col("kind") == "passage").height == idx.n_passages
        True
    """
    text = ", text" if include_text else ""
    etext = ", NULL::VARCHAR AS text" if include_text else ""
    # Passage nodes carry their document id and metadata (a JSON string), when the index has them.
    doc = ", doc_id, CAST(metadata AS VARCHAR) AS metadata" if _has_doc_columns(index) else ""
    edoc = ", NULL::VARCHAR AS doc_id, NULL::VARCHAR AS metadata" if doc else ""
    return index.sql(
        f"""
        SELECT entity_idx AS node, 'entity' AS kind, name, entity_id AS ref,
               n_passages{etext}{edoc}
        FROM entities
        UNION ALL
        SELECT passage_idx + {index.n_entities} AS node, 'passage' AS kind, title AS name,
               passage_id AS ref, 0 AS n_passages{text}{doc}
        FROM passages
        ORDER BY node
        """
    )


def edge_frame(index: SQLView, nodes: Iterable[int] | None = None) -> pl.DataFrame:
    """Undirected edges merged over kinds: ``src, dst, kinds, weight, w_<kind>...``.

    ``src < dst`` except for self-loops. With ``nodes`` only edges with both
    ends in that set are kept (the induced subgraph).

    Example:
        >>> from hipporag.index.reader import Index
        >>> import polars as pl
        >>> edges = edge_frame(Index.open(DEMO_INDEX))
        >>> edges.columns[:4]
        ['src', 'dst', 'kinds', 'weight']
        >>> synonymy = edges.filter(pl.col("kinds").str.contains("synonymy"))
        >>> bool((synonymy["w_synonymy"] > 0).all())
        True
    """
    import polars as pl

    where, params = "", []
    if nodes is not None:
        keep = sorted({int(n) for n in nodes})
        where = (
            "WHERE src IN (SELECT unnest($1::INTEGER[])) AND dst IN (SELECT unnest($1::INTEGER[]))"
        )
        params = [keep]
    per_kind = ", ".join(
        f"sum(CASE WHEN kind = '{k}' THEN weight ELSE 0 END)::DOUBLE AS w_{k}" for k in EDGE_KINDS
    )
    order = " || ".join(
        f"(CASE WHEN bool_or(kind = '{k}') THEN ',{k}' ELSE '' END)" for k in EDGE_KINDS
    )
    df = index.sql(
        f"""
        SELECT least(src, dst) AS src, greatest(src, dst) AS dst,
               ltrim({order}, ',') AS kinds, sum(weight)::DOUBLE AS weight, {per_kind}
        FROM edges {where}
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        params,
    )
    df = df.with_columns(pl.col("src").cast(pl.Int64), pl.col("dst").cast(pl.Int64))
    return with_fact_edges(index, df)


def neighborhood(index: SQLView, nodes: Iterable[int], radius: int = 1) -> list[int]:
    """Node ids within ``radius`` hops of ``nodes`` in the retrieval graph (sorted).

    Example:
        >>> from hipporag.index.reader import Index
        >>> idx = Index.open(DEMO_INDEX)
        >>> near = neighborhood(idx, [0], radius=1)
        >>> near[0], near == sorted(near), len(near) > 1
        (0, True, True)
    """
    graph = index.graph
    seen = {int(n) for n in nodes}
    frontier = np.array(sorted(seen), dtype=np.int64)
    for _ in range(max(int(radius), 0)):
        if frontier.size == 0:
            break
        nbrs = np.concatenate([np.asarray(graph.neighbors(int(u))) for u in frontier])
        new = {int(v) for v in np.unique(nbrs)} - seen
        seen |= new
        frontier = np.array(sorted(new), dtype=np.int64)
    return sorted(seen)


def _graph_attrs(index: SQLView) -> dict[str, Any]:
    return {
        "index": str(index.path),
        "n_entities": index.n_entities,
        "n_passages": index.n_passages,
    }


def to_networkx(
    index: SQLView,
    nodes: Sequence[int] | None = None,
    *,
    include_text: bool = False,
    multigraph: bool = False,
) -> nx.Graph:
    """The knowledge graph as a ``networkx.Graph`` (or ``MultiGraph``) with all attributes.

    Args:
        index: an open index.
        nodes: keep only these node ids (the induced subgraph); all nodes if None.
        include_text: add each passage's text as node attribute ``text``.
        multigraph: one edge per kind (``MultiGraph`` keyed by kind) instead of merged edges.

    Returns:
        The graph; ``graph.graph`` holds ``index``, ``n_entities`` and ``n_passages``.

    Example:
        >>> from hipporag.index.reader import Index
        >>> idx = Index.open(DEMO_INDEX)
        >>> g = to_networkx(idx)
        >>> first = [n for n, d in g.nodes(data=True) if d["kind"] == "passage"][:2]
        >>> first == [idx.n_entities, idx.n_entities + 1]
        True
    """
    import networkx as nx
    import polars as pl

    g: nx.Graph = nx.MultiGraph() if multigraph else nx.Graph()
    g.graph.update(_graph_attrs(index))
    nf = node_frame(index, include_text=include_text)
    if nodes is not None:
        nf = nf.filter(pl.col("node").is_in(sorted({int(n) for n in nodes})))
    for row in nf.iter_rows(named=True):
        attrs = {k: v for k, v in row.items() if k != "node" and v is not None}
        g.add_node(int(row["node"]), **attrs)
    if multigraph:
        ef = index.sql("SELECT src, dst, kind, weight FROM edges ORDER BY kind, src, dst")
        if nodes is not None:
            keep = sorted(g.nodes)
            ef = ef.filter(pl.col("src").is_in(keep) & pl.col("dst").is_in(keep))
        facts = fact_attributes(index)
        for src, dst, kind, weight in ef.iter_rows():
            extra = facts.get((min(src, dst), max(src, dst)), {}) if kind == "fact" else {}
            g.add_edge(int(src), int(dst), key=kind, kind=kind, weight=float(weight), **extra)
        return g
    ef = edge_frame(index, None if nodes is None else list(g.nodes))
    names = ef.columns[2:]
    for row in ef.iter_rows():
        g.add_edge(int(row[0]), int(row[1]), **dict(zip(names, row[2:], strict=True)))
    return g


def to_igraph(index: SQLView, *, include_text: bool = False) -> igraph.Graph:
    """The knowledge graph as an undirected ``igraph.Graph`` (vertex i = node id i).

    Vertex and edge attributes are those of :func:`to_networkx` (merged edges);
    ``text`` is ``None`` on entity vertices.

    Example:
        >>> from hipporag.index.reader import Index
        >>> g = to_igraph(Index.open(DEMO_INDEX))
        >>> g.vs[0]["kind"], g.es[0]["kinds"]
        ('entity', 'fact')
        >>> scores = g.personalized_pagerank(reset_vertices=[0], weights="weight")
        >>> len(scores) == g.vcount(), round(sum(scores), 6)
        (True, 1.0)
    """
    import igraph as ig

    nf = node_frame(index, include_text=include_text)
    ef = edge_frame(index)
    g = ig.Graph(n=nf.height, directed=False)
    g.add_edges(list(zip(ef["src"].to_list(), ef["dst"].to_list(), strict=True)))
    for col in nf.columns[1:]:
        g.vs[col] = nf[col].to_list()
    for col in ef.columns[2:]:
        g.es[col] = ef[col].to_list()
    for key, value in _graph_attrs(index).items():
        g[key] = value
    return g


def export_graphml(
    index: SQLView, path: str | os.PathLike[str], *, include_text: bool = True
) -> Path:
    """Write the merged-edge graph of :func:`to_networkx` as GraphML (``.gz`` compresses).

    Read it back with ``networkx.read_graphml(path, node_type=int)``, or open it in
    Gephi / Cytoscape.

    Example:
        >>> from hipporag.index.reader import Index
        >>> import tempfile
        >>> path = export_graphml(Index.open(DEMO_INDEX), f"{tempfile.mkdtemp()}/kg.graphml")
        >>> path.name, path.stat().st_size > 0
        ('kg.graphml', True)
    """
    import networkx as nx

    from hipporag.sanitize import xml_safe

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    g = to_networkx(index, include_text=include_text)
    for _, data in [*g.nodes(data=True), *((e, d) for *e, d in g.edges(data=True))]:
        for key, value in data.items():  # XML forbids control characters; escapes go too
            if isinstance(value, str):
                data[key] = xml_safe(value)
    nx.write_graphml(g, out)
    return out


def export_parquet(
    index: SQLView,
    out_dir: str | os.PathLike[str],
    *,
    names: Sequence[str] | None = None,
    views: bool = False,
) -> dict[str, Path]:
    """Write index tables as ``OUT_DIR/<table>.parquet`` (one file per table).

    Args:
        index: an open index.
        out_dir: the directory to write to (created if missing).
        names: which tables; all of :data:`hipporag.index.reader.TABLES` if None.
        views: also write ``nodes`` (see :func:`node_frame`) and ``graph_edges``
            (see :func:`edge_frame`).

    Returns:
        The written files, by table name.

    Example:
        >>> from hipporag.index.reader import Index
        >>> import tempfile
        >>> import polars as pl
        >>> idx = Index.open(DEMO_INDEX)
        >>> files = export_parquet(idx, f"{tempfile.mkdtemp()}/tables")
        >>> pl.read_parquet(files["facts"]).height == idx.n_facts
        True
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = index.tables() if names is None else {name: index.table(name) for name in names}
    if views:
        frames["nodes"] = node_frame(index, include_text=False)
        frames["graph_edges"] = edge_frame(index)
    written: dict[str, Path] = {}
    for name, frame in frames.items():
        target = out / f"{name}.parquet"
        frame.write_parquet(target)
        written[name] = target
    return written


__all__ = [
    "WEIGHT_COLUMNS",
    "edge_frame",
    "export_graphml",
    "export_parquet",
    "neighborhood",
    "node_frame",
    "tables",
    "to_igraph",
    "to_networkx",
]

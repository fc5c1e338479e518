"""``hipporag export``: the knowledge graph as GraphML, or the index tables as Parquet.

GraphML opens in Gephi, Cytoscape, networkx or igraph; Parquet files load in
polars, pandas, DuckDB or Spark.

Example:
    $ hipporag export my-index --format graphml --out kg.graphml
    $ hipporag export my-index --format parquet --out tables/
    $ python -c "import polars as pl; print(pl.read_parquet('tables/facts.parquet'))"
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hipporag.errors import InputError

FORMATS = ("graphml", "parquet")


def register(subparsers: Any) -> None:
    """Add the ``export`` subcommand to the CLI parser."""
    p = subparsers.add_parser(
        "export",
        help="export the graph (GraphML) or the tables (Parquet)",
        description="Export the knowledge graph as GraphML (Gephi, Cytoscape, networkx, "
        "igraph), or the index tables as Parquet (polars, pandas, DuckDB).",
    )
    p.add_argument("index_dir", metavar="INDEX_DIR", help="an index directory")
    p.add_argument(
        "--format", "-f", choices=FORMATS, default="graphml", help="output format (graphml)"
    )
    p.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="PATH",
        help="graphml: the file to write (.graphml, or .graphml.gz to compress); "
        "parquet: a directory, one <table>.parquet per table",
    )
    p.add_argument(
        "--no-text",
        action="store_true",
        help="graphml: leave passage texts out of the node attributes",
    )
    p.add_argument(
        "--views",
        action="store_true",
        help="parquet: also write nodes.parquet and graph_edges.parquet (merged edges)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export an index; prints what was written."""
    from hipporag.index.analysis import export_graphml, export_parquet
    from hipporag.index.reader import Index

    index = Index.open(args.index_dir)
    out = Path(args.out)
    try:
        if args.format == "graphml":
            if out.is_dir():
                raise InputError(
                    f"--out {out} is a directory; GraphML is written to one file",
                    hint=f"use e.g. --out {out / 'graph.graphml'}",
                )
            path = export_graphml(index, out, include_text=not args.no_text)
            print(f"wrote {path} ({index.graph.n_nodes} nodes, {_n_edges(index)} edges)")
        else:
            if out.exists() and not out.is_dir():
                raise InputError(
                    f"--out {out} is a file; Parquet export writes one file per table",
                    hint="give a directory (created if missing)",
                )
            files = export_parquet(index, out, views=args.views)
            for path in files.values():
                print(f"wrote {path}")
            print(f"{len(files)} tables exported to {out}")
    finally:
        index.close()
    return 0


def _n_edges(index: Any) -> int:
    """Undirected edges of the merged graph (as written to GraphML)."""
    row = index.connection().execute(
        "SELECT count(*) FROM (SELECT DISTINCT least(src, dst), greatest(src, dst) FROM edges)"
    )
    return int(row.fetchone()[0])


__all__ = ["FORMATS", "register", "run"]

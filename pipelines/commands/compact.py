"""``hipporag compact INDEX``: rewrite an index's pieces into one of each.

A change writes only what it changed (appended pieces, patches, new HNSW
segments, graph deltas), and the merge policy keeps their number
logarithmic. ``compact`` commits a generation that holds every array, HNSW
index and the graph as one file each, with the vectors of deleted rows zeroed;
after ``hipporag gc`` removes the older generations, nothing deleted is left
on disk (as Lucene's ``forceMerge`` / ``expungeDeletes``).

Example:
    $ hipporag compact my-index && hipporag gc my-index --grace 0
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("compact", help="rewrite an index as one piece per file")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_sharded(args.index):
        return _sharded.compact(args)
    from hipporag.index import Index
    from indexers.builder import IndexBuilder

    idx = Index.open(args.index)
    config = idx.config
    idx.close()
    report = IndexBuilder(config).compact(args.index)  # no model is loaded
    if args.json or not getattr(args, "quiet", False):
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0

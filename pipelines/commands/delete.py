"""``hipporag delete INDEX --ids ID... | --corpus FILE``: remove passages or documents.

Ids are passage ids or document ids (a record's ``id``). Facts and entities go
when no remaining passage supports them. Unknown ids are reported, not fatal.

Example:
    $ hipporag delete my-index --ids doc-17 doc-18
    $ hipporag delete my-index --corpus retracted.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hipporag.errors import InputError
from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("delete", help="remove passages or documents from an index")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--ids", nargs="+", default=[], metavar="ID", help="passage or document ids")
    p.add_argument(
        "--corpus",
        action="append",
        default=[],
        metavar="FILE",
        help="delete the records of this corpus file (by their ids)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hipporag.index import Index
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    ids = list(args.ids)
    for path in args.corpus:
        passages, _ = read_corpus(path)
        ids += sorted({p.document for p in passages})
    if not ids:
        raise InputError("nothing to delete", hint="give --ids ID... or --corpus FILE")
    if is_sharded(args.index):
        return _sharded.change(args, "delete", ids)
    idx = Index.open(args.index)
    config = idx.config
    idx.close()
    report = IndexBuilder(config).delete(ids, args.index)  # no model is loaded for a delete
    if args.json or not getattr(args, "quiet", False):
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0

"""``hipporag history INDEX``: the generations of an index, oldest first.

Example:
    $ hipporag history my-index
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded
from pipelines.generation_rows import rows


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("history", help="list the generations of an index")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_sharded(args.index):
        return _sharded.history(args)
    data = rows(args.index)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"{'gen':>5} {'parent':>6}  {'time (UTC)':19}  {'operation':9} {'passages':>8} {'+':>6} {'-':>6}"
    )
    for r in data:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["time"] or 0))
        mark = " *" if r["current"] else ""
        print(
            f"{r['generation']:>5} {r['parent'] if r['parent'] is not None else '-':>6}  {when}  "
            f"{r['operation']:9} {r['passages']:>8} {r['added']:>6} {r['removed']:>6}{mark}"
        )
    return 0

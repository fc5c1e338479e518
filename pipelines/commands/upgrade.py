"""``hipporag upgrade INDEX``: convert an older index to the current version.

A format version 1 index is converted; a newer one made before the lexical
(BM25) part existed gets it.

Example:
    $ hipporag upgrade old-index
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("upgrade", help="convert an index to the current format")
    p.add_argument("index", metavar="INDEX_DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from indexers.upgrade import upgrade

    out = upgrade(args.index)
    if out.get("added"):
        print(f"{out['path']}: added {', '.join(out['added'])} (a new generation)")
    elif out["from"] == out["to"]:
        print(f"{out['path']} is already format version {out['to']}")
    else:
        print(f"{out['path']}: converted format version {out['from']} to {out['to']}")
    return 0

"""``hipporag gc INDEX``: drop generations no reader needs, and their files.

Kept: the current generation, generations a reader holds a live lease on
(a heartbeat file younger than its TTL, so readers on other machines sharing
the volume count), and generations younger than ``--grace`` seconds (a
number >= 0).

Example:
    $ hipporag gc my-index
    $ hipporag gc my-index --grace 0
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("gc", help="drop unreferenced generations of an index")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument(
        "--grace",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="keep generations younger than this (default 600)",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_sharded(args.index):
        return _sharded.gc(args)
    from hipporag.index.generations import gc

    out = gc(args.index, grace_s=args.grace)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"kept generations {out['kept']}, dropped {out['dropped']} "
            f"({out['bytes_freed'] / 1e6:.1f} MB freed; in use by readers: {out['leased']})"
        )
    return 0

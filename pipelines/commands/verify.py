"""``hipporag verify INDEX``: check every file and the structure of an index.

Exit code 0 when the index is sound, 1 when something is wrong (each problem
is printed with how to fix it).

Example:
    $ hipporag verify my-index
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("verify", help="check an index's files and structure")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_sharded(args.index):
        return _sharded.verify(args)
    from hipporag.index.verify import verify

    out = verify(args.index)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["ok"] else 1
    for note in out.get("notes", []):
        print(f"note: {note}")
    if out["leftovers"]:
        print(
            f"note: {len(out['leftovers'])} leftovers of interrupted writes (the next "
            "change or 'hipporag gc' removes them)"
        )
    if out["ok"]:
        print(f"{out['path']}: ok (generation {out.get('generation')})")
        return 0
    for p in out["problems"]:
        print(f"error: {p}", file=sys.stderr)
    print(f"  how to fix: {out['hint']}", file=sys.stderr)
    return 1

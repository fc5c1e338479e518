"""``hipporag keys add|list|revoke KEYS_FILE``: API keys of ``hipporag serve``.

``add`` prints the new key once, on its last line, and stores only its hash.
A key has scopes (``read``, ``write``) and optionally a tenant filter
(``--filter KEY=VALUE``, the words of ``hipporag retrieve --filter``, or
``--filter-json``) ANDed into every request it makes.

Example:
    $ hipporag keys add keys.toml --name acme --scope read --scope write --filter tenant=acme
    $ hipporag keys list keys.toml
    $ hipporag keys revoke keys.toml acme
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hipporag.errors import InputError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("keys", help="manage the API keys of `hipporag serve`")
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="create a key (printed once; only its hash is stored)")
    a.add_argument("file", metavar="KEYS_FILE")
    a.add_argument("--name", required=True, help="a name for the key (unique in the file)")
    a.add_argument(
        "--scope", action="append", choices=["read", "write"], default=[], help="repeatable"
    )
    a.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tenant filter ANDed into every request (repeatable: KEY=V, KEY=A,B, KEY>=N)",
    )
    a.add_argument("--filter-json", metavar="JSON", help="tenant filter as a JSON filter spec")
    a.add_argument("--rate", type=float, help="requests per second allowed (default: unlimited)")
    a.set_defaults(func=run_add)
    ls = sub.add_parser("list", help="list the keys (names, scopes, filters; never the keys)")
    ls.add_argument("file", metavar="KEYS_FILE")
    ls.add_argument("--json", action="store_true", help="print as JSON")
    ls.set_defaults(func=run_list)
    r = sub.add_parser("revoke", help="revoke a key by name (it stops working at once)")
    r.add_argument("file", metavar="KEYS_FILE")
    r.add_argument("name", metavar="NAME")
    r.set_defaults(func=run_revoke)


def run_add(args: argparse.Namespace) -> int:
    from hipporag.filters import all_of, parse_filter_args
    from pipelines.service.keys import add_key

    if not args.scope:
        raise InputError("no --scope given", hint="add --scope read and/or --scope write")
    spec: Any = None
    if args.filter_json:
        try:
            spec = json.loads(args.filter_json)
        except json.JSONDecodeError as err:
            raise InputError(
                f"--filter-json is not JSON ({err})", hint='e.g. {"tenant": "acme"}'
            ) from None
    spec = all_of(parse_filter_args(args.filter), spec)
    key = add_key(args.file, args.name, scopes=args.scope, filter=spec, rate=args.rate)
    what = f"scopes {', '.join(sorted(set(args.scope)))}"
    if spec:
        what += f", filter {json.dumps(spec)}"
    print(f"added key {args.name!r} ({what}) to {args.file}; it is shown only now:")
    print(key)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from pipelines.service.keys import read_keys

    rows = [
        {
            "name": name,
            "prefix": e.get("prefix"),
            "scopes": e["scopes"],
            "filter": e.get("filter"),
            "rate": e.get("rate"),
            "created": e.get("created"),
            "revoked": e.get("revoked"),
        }
        for name, e in read_keys(args.file).items()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no keys in {args.file}")
    for r in rows:
        state = f"revoked {r['revoked']}" if r["revoked"] else "active"
        extra = f" filter={json.dumps(r['filter'])}" if r["filter"] else ""
        extra += f" rate={r['rate']}/s" if r["rate"] else ""
        print(f"{r['name']}  {r['prefix']}...  {','.join(r['scopes'])}  {state}{extra}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from pipelines.service.keys import revoke_key

    revoke_key(args.file, args.name)
    print(f"revoked key {args.name!r} in {args.file}")
    return 0

"""``hipporag cache``: inspect or clear the LLM response cache.

The cache holds answers of OpenAI-compatible servers (LLM OpenIE, QA), keyed
by endpoint, model identity, prompt and sampling settings; see
:mod:`hipporag.llm.cache`. ``info`` also checks every entry's checksum.

Example:
    $ hipporag cache info
    $ hipporag cache info --dir /data/llm-cache --json
    $ hipporag cache clear
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hipporag.errors import ConfigError
from hipporag.llm.cache import DB_NAME, LLMCache, default_cache_dir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("cache", help="inspect or clear the LLM response cache")
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("info", info, "where the cache is, entries, size, damaged entries"),
        ("clear", clear, "delete every cached answer"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument(
            "--dir",
            metavar="DIR",
            help=f"the cache folder (default: llm.cache_dir, or {default_cache_dir()})",
        )
        c.add_argument("--json", action="store_true", help="print as JSON")
        c.set_defaults(func=func)


def _cache(args: argparse.Namespace, *, must_exist: bool) -> LLMCache | None:
    folder = Path(args.dir).expanduser() if args.dir else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder", hint="pass the cache folder with --dir")
    if not (folder / DB_NAME).is_file():
        if must_exist and args.dir:
            raise ConfigError(
                f"no LLM cache in {folder} (no {DB_NAME})",
                hint="pass the folder set as llm.cache_dir, or omit --dir for the default",
            )
        return None
    return LLMCache(folder)


def info(args: argparse.Namespace) -> int:
    cache = _cache(args, must_exist=True)
    if cache is None:
        data: dict[str, Any] = {"path": str(default_cache_dir() / DB_NAME), "entries": 0}
        data["exists"] = False
    else:
        data = {"exists": True, **cache.info()}
        cache.close()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    if not data["exists"]:
        print(f"LLM cache {data['path']}: empty (not created yet)")
        return 0
    print(f"LLM cache {data['path']}")
    print(f"  entries {data['entries']}  size {data['bytes'] / 1e6:.2f} MB  mode {data['mode']}")
    if data["invalid_entries"]:
        print(
            f"  {data['invalid_entries']} entries fail their checksum (planted or edited); "
            "they are ignored and asked again; `hipporag cache clear` removes them"
        )
    return 0


def clear(args: argparse.Namespace) -> int:
    cache = _cache(args, must_exist=True)
    n = 0 if cache is None else cache.clear()
    if cache is not None:
        cache.close()
    if args.json:
        print(json.dumps({"cleared": n}))
    else:
        print(f"cleared {n} cached LLM answers")
    return 0

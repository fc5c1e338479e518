"""``hipporag info``: what an index holds: counts, sizes on disk, config, format version.

Example:
    $ hipporag info my-index
    $ hipporag info my-index --json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hipporag.config import IndexConfig
from hipporag.index import Index
from pipelines.termsafe import printable


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="describe an index: counts, sizes, config, format")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def describe(path: str | Path) -> dict[str, Any]:
    """Everything ``hipporag info`` shows, as a JSON-able dict."""
    idx = Index.open(path)
    meta = idx.meta
    files = {
        str(p.relative_to(idx.path)): p.stat().st_size
        for p in sorted(idx.path.rglob("*"))
        if p.is_file()
    }
    parts: dict[str, int] = {}
    for name, size in files.items():
        top = name.split("/", 1)[0]
        parts[top] = parts.get(top, 0) + size
    out = {
        "path": str(idx.path),
        "format": meta.get("format"),
        "format_version": meta.get("format_version"),
        "counts": idx.counts,
        "size_bytes": sum(files.values()),
        "sizes": parts,
        "files": files,
        "config": idx.config.to_dict(),
        "components": meta.get("components", {}),
        "embedding": meta.get("embedding", {}),
        "library_versions": meta.get("library_versions", {}),
        "read_stats": {k: v for k, v in meta.get("read_stats", {}).items() if k != "warnings"},
        "timings_s": meta.get("timings_s", {}),
        "job": meta.get("job"),
    }
    idx.close()
    return out


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def render(d: dict[str, Any]) -> str:
    c = d["counts"]
    comp = d.get("components", {})
    ext = comp.get("extractor", {})
    lines = [
        f"index {d['path']}",
        f"  format {d['format']} version {d['format_version']}",
        f"  passages {c.get('passages')}  entities {c.get('entities')}  facts {c.get('facts')}"
        f"  graph nodes {c.get('graph_nodes')}",
        "  edges " + "  ".join(f"{k} {v}" for k, v in (c.get("edges") or {}).items()),
        f"  embedding {d['embedding'].get('model')} (dim {d['embedding'].get('dim')})"
        f"  openie {ext.get('kind')}" + (f" ({ext['model']})" if ext.get("model") else ""),
        f"  size on disk {_size(d['size_bytes'])}: "
        + ", ".join(f"{k} {_size(v)}" for k, v in sorted(d["sizes"].items())),
    ]
    job = d.get("job")
    if job:
        lines.append(f"  built by a {job.get('executor')} job ({job.get('workers')} workers)")
    lines.append("config:")
    cfg = IndexConfig.from_dict(d["config"]).to_toml()
    lines.extend("  " + line if line else "" for line in cfg.splitlines())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    d = describe(args.index)
    print(json.dumps(d, indent=2, sort_keys=True) if args.json else printable(render(d)))
    return 0

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
from hipporag.index.shardset import is_sharded
from pipelines.commands import _sharded
from pipelines.termsafe import printable


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="describe an index: counts, sizes, config, format")
    p.add_argument("index", metavar="INDEX_DIR")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def describe(path: str | Path) -> dict[str, Any]:
    """Everything ``hipporag info`` shows, as a JSON-able dict (with ``warnings``)."""
    from hipporag.index.format import read_meta
    from hipporag.index.generations import leftovers

    root = Path(path).absolute()
    meta = read_meta(root)
    warnings: list[str] = []
    if meta.get("format_version") == 1:
        entries = {k: {"path": k, "size": v} for k, v in meta.get("files", {}).items()}
        warnings.append(f"format version 1 index (read-only): run 'hipporag upgrade {root}'")
        left: list[str] = []
    else:
        entries = meta["files"]
        left = leftovers(root, meta)
    files: dict[str, int] = {}
    for logical, entry in entries.items():
        p = root / entry["path"]
        size = p.stat().st_size if p.is_file() else -1
        files[logical] = size
        if size < 0:
            warnings.append(f"{entry['path']} is missing")
        elif "size" in entry and size != entry["size"]:
            warnings.append(f"{entry['path']} has {size} bytes, the manifest says {entry['size']}")
    if left:
        warnings.append(
            f"{len(left)} leftovers of interrupted writes ({', '.join(left[:3])}"
            f"{', ...' if len(left) > 3 else ''}); the next change or 'hipporag gc' removes them"
        )
    if any(not w.startswith("format version") for w in warnings if "leftovers" not in w):
        warnings.append(f"run 'hipporag verify {root}' for a full check")
    parts: dict[str, int] = {}
    for name, size in files.items():
        top = "tables" if name.endswith(".duckdb") else name.split("/", 1)[0]
        parts[top] = parts.get(top, 0) + max(size, 0)
    disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {
        "path": str(root),
        "format": meta.get("format"),
        "format_version": meta.get("format_version"),
        "generation": meta.get("generation"),
        "operation": meta.get("operation"),
        "counts": meta.get("counts", {}),
        "size_bytes": sum(max(v, 0) for v in files.values()),
        "disk_bytes": disk,
        "sizes": parts,
        "db_parts": meta.get("db_parts") or [],
        "files": files,
        "config": meta.get("config", {}),
        "components": meta.get("components", {}),
        "embedding": meta.get("embedding", {}),
        "library_versions": meta.get("library_versions", {}),
        "read_stats": {k: v for k, v in meta.get("read_stats", {}).items() if k != "warnings"},
        "timings_s": meta.get("timings_s", {}),
        "job": meta.get("job"),
        "leftovers": left,
        "warnings": warnings,
    }


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def render(d: dict[str, Any]) -> str:
    c = dict(d["counts"])
    c.update(c.get("live", {}))
    comp = d.get("components", {})
    ext = comp.get("extractor", {})
    lines = [
        f"index {d['path']}",
        f"  format {d['format']} version {d['format_version']}, generation "
        f"{d.get('generation')} ({d.get('operation')})",
        f"  passages {c.get('passages')}  entities {c.get('entities')}  facts {c.get('facts')}"
        f"  graph nodes {c.get('graph_nodes')}",
        "  edges " + "  ".join(f"{k} {v}" for k, v in (c.get("edges") or {}).items()),
        f"  embedding {d['embedding'].get('model')} (dim {d['embedding'].get('dim')})"
        f"  openie {ext.get('kind')}" + (f" ({ext['model']})" if ext.get("model") else ""),
        f"  size on disk {_size(d['size_bytes'])} (all generations {_size(d.get('disk_bytes', 0))}): "
        + ", ".join(f"{k} {_size(v)}" for k, v in sorted(d["sizes"].items())),
    ]
    db = d.get("db_parts") or []
    if len(db) > 1:
        dead = sum(sum(p.get("tombstones", {}).values()) for p in db)
        lines.append(
            f"  tables in {len(db)} DuckDB parts (generations "
            f"{', '.join(str(p['generation']) for p in db)}; {dead} tombstones)"
        )
    job = d.get("job")
    if job:
        lines.append(f"  built by a {job.get('executor')} job ({job.get('workers')} workers)")
    lines.extend(f"  warning: {w}" for w in d.get("warnings", []))
    lines.append("config:")
    cfg = IndexConfig.from_dict(d["config"]).to_toml()
    lines.extend("  " + line if line else "" for line in cfg.splitlines())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if is_sharded(args.index):
        return _sharded.info(args)
    d = describe(args.index)
    print(json.dumps(d, indent=2, sort_keys=True) if args.json else printable(render(d)))
    return 0

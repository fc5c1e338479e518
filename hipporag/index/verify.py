"""Checking an index: every file against its manifest, then its structure.

:func:`verify` reads every byte (sizes and blake2b checksums), then loads
arrays, HNSW indexes and tables and checks they agree with the counts.
``hipporag verify INDEX`` prints the problems and exits non-zero.

Example:
    >>> verify("/no/such/index")["ok"]
    False
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.errors import HippoRAGError
from hipporag.index.format import ARRAYS, HNSW_INDEXES, LIVE_ARRAYS, STATE_ARRAYS, read_meta
from hipporag.index.generations import leftovers


def _structure(root: Path, problems: list[str]) -> None:
    from hipporag.index.reader import Index

    idx = Index.open(root)
    try:
        names = list(ARRAYS) + (list(STATE_ARRAYS) if idx.format_version > 1 else [])
        for name in names:
            try:
                idx.array(name)
            except HippoRAGError as err:
                problems.append(err.message)
        for name in HNSW_INDEXES:
            try:
                idx.hnsw(name)
            except HippoRAGError as err:
                problems.append(err.message)
        try:
            _ = idx.graph
            live = idx.counts.get("live", {})
            for table in LIVE_ARRAYS:
                n = int(idx.sql(f"SELECT count(*) AS n FROM {table}")["n"][0])
                want = live.get(table, idx.counts[table])
                if n != want:
                    problems.append(f"table {table} has {n} rows, the manifest says {want}")
                if idx.format_version > 1 and int(idx.live(table).sum()) != n:
                    problems.append(f"table {table} disagrees with its live mask")
        except HippoRAGError as err:
            problems.append(err.message)
        _lexical(idx, problems)
        _passage_store(idx, problems)
    finally:
        idx.close()


def _lexical(idx: object, problems: list[str]) -> None:
    """The lexical part: every segment readable, the segments tiling the passage rows."""
    from hipporag.index.lexical import lexical_layout, load_lexical

    layout = lexical_layout(getattr(idx, "meta", {}))
    if layout is None:
        return
    stops = [0] + [s.stop for s in layout]
    if any(s.start != a for s, a in zip(layout, stops, strict=False)):
        problems.append("the lexical segments do not tile the passage rows")
        return
    try:
        load_lexical(idx)
    except HippoRAGError as err:
        problems.append(err.message)


def _passage_store(idx: Any, problems: list[str], batch: int = 20_000) -> None:
    """The passage store: segments tiling the rows, every live row equal to its table row."""
    from hipporag.index.passagestore import load_store, store_layout
    from hipporag.index.rows import table_passage_rows

    layout = store_layout(idx.meta)
    if layout is None:
        return
    stops = [0] + [s.stop for s in layout]
    if any(s.start != a for s, a in zip(layout, stops, strict=False)):
        problems.append("the passage store's segments do not tile the passage rows")
        return
    try:
        store = load_store(idx)
        if store is None:
            return
        live = np.flatnonzero(store.live).tolist()
        for i in range(0, len(live), batch):
            rows = live[i : i + batch]
            try:
                stored = store.get(rows)
            except (KeyError, ValueError, TypeError) as err:  # absent or undecodable bytes
                problems.append(f"the passage store cannot give a live passage ({err})")
                return
            for row, a, b in zip(rows, stored, table_passage_rows(idx, rows), strict=True):
                if a != b:
                    problems.append(f"the passage store disagrees with table passages at row {row}")
                    return
    except HippoRAGError as err:
        problems.append(err.message)


def verify(path: str | os.PathLike[str]) -> dict[str, Any]:
    """All problems of the index at ``path`` (``ok`` when there are none)."""
    from hipporag.index.writer import checksum

    root = Path(path).absolute()
    problems: list[str] = []
    out: dict[str, Any] = {"path": str(root), "problems": problems, "leftovers": []}
    try:
        meta = read_meta(root)
    except HippoRAGError as err:
        problems.append(err.message)
        out.update(ok=False, hint=getattr(err, "hint", None))
        return out
    out["generation"] = meta.get("generation")
    out["format_version"] = meta.get("format_version")
    if meta.get("format_version") == 1:
        out["notes"] = [f"format version 1 (read-only): convert with 'hipporag upgrade {root}'"]
        files = {k: {"path": k, "size": v} for k, v in meta.get("files", {}).items()}
    else:
        files = meta["files"]
        out["leftovers"] = leftovers(root, meta)
    for _logical, entry in sorted(files.items()):
        p = root / entry["path"]
        if not p.is_file():
            problems.append(f"{entry['path']} is missing")
            continue
        size = p.stat().st_size
        if "size" in entry and size != entry["size"]:
            problems.append(f"{entry['path']} has {size} bytes, the manifest says {entry['size']}")
        elif "blake2b" in entry and checksum(p) != entry["blake2b"]:
            problems.append(f"{entry['path']} does not match its checksum (its content changed)")
    if not problems:
        try:
            _structure(root, problems)
        except HippoRAGError as err:
            problems.append(err.message)
    out["ok"] = not problems
    if problems:
        out["hint"] = (
            "rebuild the index with 'hipporag index CORPUS --out " + str(root) + "' or restore "
            "the directory from a backup"
        )
    return out


__all__ = ["verify"]

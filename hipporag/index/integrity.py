"""Cheap integrity checks run when an index is opened, and the error they raise.

Example:
    >>> str(damaged(Path("/i"), "x is missing")).splitlines()[0]
    'index /i is damaged: x is missing'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hipporag.errors import HippoRAGError, IndexFormatError
from hipporag.fsio import file_checksum
from hipporag.index.format import ARRAYS, ARRAYS_DIR, DB_FILE, STATE_ARRAYS


def damaged(path: Path, what: str) -> IndexFormatError:
    """The error for a damaged index file, with the fix."""
    return IndexFormatError(
        f"index {path} is damaged: {what}",
        hint=f"run 'hipporag verify {path}' for details; rebuild it with 'hipporag index' "
        "or restore the directory from a backup",
    )


def check_shape(root: Path, meta: dict[str, Any], name: str, arr: Any) -> None:
    """An array has the rows (and embedding width) the manifest's counts say."""
    counts = meta.get("counts", {})
    P, E, F = (int(counts.get(k, 0)) for k in ("passages", "entities", "facts"))
    nodes = int(meta.get("graph", {}).get("nodes", P + E))  # the CSR base's nodes
    rows = {"passage": P, "entity": E, "fact": F, "synonymy": E, "graph_indptr": nodes + 1}
    want = next((v for k, v in rows.items() if name.startswith(k)), None)
    if want is not None and arr.shape[0] != want:
        raise damaged(root, f"{name} has {arr.shape[0]} rows, the index has {want}")
    dim = meta.get("embedding", {}).get("dim")
    if name.endswith("_embeddings") and want and (arr.ndim != 2 or arr.shape[1] != dim):
        raise damaged(root, f"{name} has shape {arr.shape}, embedding dim is {dim}")


def check_sizes(root: Path, meta: dict[str, Any]) -> None:
    """Every file is there with the size the manifest records (cheap: stat only)."""
    files = meta.get("files", {})
    if meta.get("format_version") == 1:
        missing = [n for n in ARRAYS if not (root / ARRAYS_DIR / f"{n}.npy").is_file()]
        if missing or not (root / DB_FILE).is_file():
            raise damaged(root, f"missing {missing or [DB_FILE]}")
        sizes = {k: v for k, v in files.items() if isinstance(v, int)}
        entries = {k: {"path": k, "size": v} for k, v in sizes.items()}
    else:
        entries = files
        need = [f"{ARRAYS_DIR}/{n}.npy" for n in [*ARRAYS, *STATE_ARRAYS]] + [DB_FILE]
        missing = [n for n in need if n not in entries]
        if missing:
            raise damaged(root, f"the manifest lists no {missing[0]}")
    for entry in entries.values():
        p = root / entry["path"]
        try:
            size = p.stat().st_size
        except OSError:
            raise damaged(root, f"{entry['path']} is missing") from None
        if "size" in entry and size != entry["size"]:
            raise damaged(
                root,
                f"{entry['path']} has {size} bytes, the manifest says {entry['size']}",
            )


LIMIT_ENV = "HIPPORAG_CHECKSUM_LIMIT"
DEFAULT_LIMIT = 256 << 20
# Files whose checksum this process has checked: (path, device, inode, size, mtime) -> sum.
_CHECKED: dict[tuple[str, int, int, int, int], str] = {}


def checksum_limit() -> int:
    """Largest file checked on first use (``HIPPORAG_CHECKSUM_LIMIT`` bytes; HNSW: all)."""
    try:
        return int(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT))
    except ValueError:
        return DEFAULT_LIMIT


def check_file(root: Path, meta: dict[str, Any], logical: str, path: Path) -> None:
    """A file matches its manifest checksum before it is first read in this process.

    Index files never change once written, so each is hashed once per process
    (HNSW files always, since a damaged one can crash hnswlib; other files up
    to :func:`checksum_limit` bytes; larger ones are checked by ``verify``).
    """
    entry = meta.get("files", {}).get(logical)
    if not isinstance(entry, dict) or not isinstance(entry.get("blake2b"), str):
        return
    try:
        st = path.stat()
    except OSError:
        raise damaged(root, f"{entry['path']} is missing") from None
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if _CHECKED.get(key) == entry["blake2b"]:
        return
    if not logical.startswith("hnsw/") and st.st_size > checksum_limit():
        return
    if file_checksum(path) != entry["blake2b"]:
        raise damaged(root, f"{entry['path']} does not match its checksum (its content changed)")
    _CHECKED[key] = entry["blake2b"]


def check_open(index: Any) -> None:
    """Raise a clear error when a closed :class:`~hipporag.index.Index` is used."""
    if getattr(index, "_closed", False):
        raise IndexClosedError(
            f"this Index of {index.path} was closed",
            hint="open it again with Index.open(path) (or HippoRAG.open(path))",
        )


class IndexClosedError(HippoRAGError, RuntimeError):
    """An :class:`~hipporag.index.Index` (or ``HippoRAG``) was used after ``close()``."""


__all__ = [
    "IndexClosedError",
    "check_file",
    "check_open",
    "check_shape",
    "check_sizes",
    "checksum_limit",
    "damaged",
]

"""Generations of a living index: the writer lock, reader leases, history and gc.

* One writer at a time: :class:`WriteLock` (:mod:`hipporag.index.locking`,
  an ``flock`` on ``write.lock``); a second writer gets an
  :class:`IndexLockedError` naming the holder; a writer that dies releases it.
* Readers lease the generation they use (:class:`Lease`,
  :mod:`hipporag.index.leases`, a heartbeat file); :func:`gc` never removes a
  generation with a live lease, the current one, or one younger than a grace
  period.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with WriteLock(d):
    ...     (d / "write.lock").is_file()
    True
    >>> (d / "write.lock").exists()
    False
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError, InputError
from hipporag.faults import crash_point
from hipporag.fsio import atomic_write_text, sweep_temporaries
from hipporag.index.format import (
    DATA_DIR,
    GENERATIONS_DIR,
    META_FILE,
    parse_meta,
)
from hipporag.index.leases import Lease, drop_lease, live_generations, take_lease
from hipporag.index.locking import IndexLockedError, WriteLock
from hipporag.log import get_logger

logger = get_logger(__name__)


def leased_generations(root: Path) -> set[int]:
    """Generations held by a live reader lease; stale lease files are removed."""
    return live_generations(root, remove_stale=True)


# -- history -------------------------------------------------------------------------
def manifest_path(root: Path, number: int) -> Path:
    return root / GENERATIONS_DIR / f"{number:06d}.json"


def history(root: str | os.PathLike[str], *, strict: bool = False) -> list[dict[str, Any]]:
    """Every stored generation's manifest, oldest first.

    An unreadable manifest is skipped with a warning, or raises
    :class:`IndexFormatError` if ``strict`` (``gc`` cannot know what it used).
    """
    d = Path(root) / GENERATIONS_DIR
    out = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            out.append(parse_meta(p.read_bytes().decode("utf-8"), p))
        except (IndexFormatError, OSError, UnicodeDecodeError) as err:
            if strict:
                raise IndexFormatError(
                    f"generation manifest {p} is damaged ({type(err).__name__}); gc cannot tell "
                    "which files it uses",
                    hint=f"if generation {p.stem.lstrip('0') or 0} is no longer read, move "
                    "that file out of the index and run gc again",
                ) from None
            logger.warning("skipping unreadable generation manifest %s", p)
    return out


def current_generation(root: str | os.PathLike[str]) -> int | None:
    """The committed generation number, read from the commit point (cheap)."""
    try:
        meta = json.loads((Path(root) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta.get("generation") if isinstance(meta, dict) else None


def referenced_files(manifests: list[dict[str, Any]]) -> set[str]:
    return {e["path"] for m in manifests for e in m.get("files", {}).values()}


def sweep_orphans(root: Path, current: dict[str, Any]) -> list[Path]:
    """Remove files a killed writer left: our temporaries and unreferenced newer data.

    Called by the writer (under the lock), so nothing here belongs to a live writer.
    """
    removed = sweep_temporaries(root) + sweep_temporaries(root / GENERATIONS_DIR)
    number = int(current.get("generation", 0))
    data = root / DATA_DIR
    if data.is_dir():
        import shutil

        for g in data.iterdir():
            removed += [t for t in _sweep_tmp_tree(g)]
            if g.name.startswith("g") and g.name[1:].isdigit() and int(g.name[1:]) > number:
                shutil.rmtree(g, ignore_errors=True)
                removed.append(g)
    for p in (root / GENERATIONS_DIR).glob("*.json") if (root / GENERATIONS_DIR).is_dir() else []:
        if p.stem.isdigit() and int(p.stem) > number:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _sweep_tmp_tree(d: Path) -> list[Path]:
    out: list[Path] = []
    if d.is_dir():
        for sub in [d, *[p for p in d.rglob("*") if p.is_dir()]]:
            out += sweep_temporaries(sub)
    return out


def leftovers(root: Path, current: dict[str, Any]) -> list[str]:
    """Names of leftovers of killed writers (what :func:`sweep_orphans` would remove)."""
    number = int(current.get("generation", 0))
    out = [str(p.relative_to(root)) for p in root.rglob(".*.tmp-*")]
    data = root / DATA_DIR
    for g in data.iterdir() if data.is_dir() else []:
        if g.name[1:].isdigit() and int(g.name[1:]) > number:
            out.append(str(g.relative_to(root)))
    return sorted(out)


def gc(root: str | os.PathLike[str], *, grace_s: float = 600.0) -> dict[str, Any]:
    """Drop generations no reader needs, and the files only they used.

    Kept: the current generation, every generation leased by a live process,
    and every generation committed less than ``grace_s`` seconds ago.
    """
    import math

    from hipporag.index.format import read_meta

    if not isinstance(grace_s, (int, float)) or math.isnan(grace_s) or grace_s < 0:
        raise InputError(
            f"grace period {grace_s!r} is not a number of seconds >= 0",
            hint="pass --grace SECONDS, e.g. --grace 600 (0 drops every unused generation)",
        )
    root = Path(root).absolute()
    if read_meta(root).get("format_version") == 1:  # before any lock: no folder is created
        raise IndexFormatError(
            f"{root} is a format version 1 index: it has no generations to collect",
            hint=f"convert it first with 'hipporag upgrade {root}'",
        )
    with WriteLock(root):
        current = read_meta(root)
        swept = sweep_orphans(root, current)
        leased = leased_generations(root)
        now = time.time()
        keep, drop = [], []
        for m in history(root, strict=True):
            n = int(m["generation"])
            young = now - float(m.get("time", 0)) < grace_s
            (keep if n == current["generation"] or n in leased or young else drop).append(m)
        if not any(m["generation"] == current["generation"] for m in keep):
            keep.append(current)
        needed = referenced_files(keep)
        freed = 0
        for m in drop:
            manifest_path(root, int(m["generation"])).unlink(missing_ok=True)
        data = root / DATA_DIR
        for p in sorted(data.rglob("*"), reverse=True) if data.is_dir() else []:
            rel = str(p.relative_to(root))
            if p.is_file() and rel not in needed:
                freed += p.stat().st_size
                _gc_point("gc:before-unlink")
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    return {
        "kept": sorted(int(m["generation"]) for m in keep),
        "dropped": sorted(int(m["generation"]) for m in drop),
        "leased": sorted(leased),
        "bytes_freed": freed,
        "swept": [str(p) for p in swept],
    }


def _gc_point(name: str) -> None:
    crash_point(name)


def write_manifest(root: Path, meta: dict[str, Any], text: str) -> None:
    """Store a generation's manifest in ``generations/`` (before the commit point)."""
    (root / GENERATIONS_DIR).mkdir(exist_ok=True)
    atomic_write_text(manifest_path(root, int(meta["generation"])), text)


__all__ = [
    "IndexLockedError",
    "Lease",
    "WriteLock",
    "current_generation",
    "drop_lease",
    "gc",
    "history",
    "leased_generations",
    "leftovers",
    "sweep_orphans",
    "take_lease",
    "write_manifest",
]

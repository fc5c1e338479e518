"""Generations of a living index: the writer lock, reader leases, history and gc.

* One writer at a time: :class:`WriteLock` creates ``write.lock`` holding its
  pid; a second writer gets an :class:`IndexFormatError` naming the holder; a
  lock left by a dead process is taken over.
* Readers lease the generation they use (``leases/gN-PID-RAND``); :func:`gc`
  never removes a generation leased by a live process, the current one, or one
  younger than a grace period.

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

import contextlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError
from hipporag.faults import crash_point
from hipporag.fsio import atomic_write_text, pid_alive, sweep_temporaries
from hipporag.index.format import (
    DATA_DIR,
    GENERATIONS_DIR,
    LEASES_DIR,
    LOCK_FILE,
    META_FILE,
    parse_meta,
)
from hipporag.log import get_logger

logger = get_logger(__name__)


class IndexLockedError(IndexFormatError):
    """Another live process is writing this index."""


class WriteLock:
    """The one-writer lock of an index directory (a file holding the writer's pid)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.path = Path(root) / LOCK_FILE
        self.held = False

    def acquire(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _lock_pid(self.path)
                if holder is not None and holder != os.getpid() and pid_alive(holder):
                    raise IndexLockedError(
                        f"{self.path.parent} is being changed by process {holder}",
                        hint=f"wait for process {holder} to finish (or stop it), then retry",
                    ) from None
                logger.info("taking over the stale write lock of process %s", holder)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self.held = True
            return self
        raise IndexLockedError(f"could not lock {self.path}", hint="retry in a moment")

    def release(self) -> None:
        if self.held:
            if _lock_pid(self.path) == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> WriteLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# -- leases ------------------------------------------------------------------------
def take_lease(root: Path, generation: int) -> Path | None:
    """Record that this process reads ``generation`` (None where the folder is read-only)."""
    d = root / LEASES_DIR
    path = d / f"g{generation}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        d.mkdir(exist_ok=True)
        path.write_text("")
    except OSError:
        return None
    return path


def drop_lease(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def leased_generations(root: Path) -> set[int]:
    """Generations leased by live processes; stale leases of dead pids are removed."""
    out: set[int] = set()
    d = root / LEASES_DIR
    if not d.is_dir():
        return out
    for p in d.iterdir():
        parts = p.name.split("-")
        if len(parts) != 3 or not parts[0][1:].isdigit() or not parts[1].isdigit():
            continue
        if pid_alive(int(parts[1])):
            out.add(int(parts[0][1:]))
        else:
            p.unlink(missing_ok=True)
    return out


# -- history -------------------------------------------------------------------------
def manifest_path(root: Path, number: int) -> Path:
    return root / GENERATIONS_DIR / f"{number:06d}.json"


def history(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every stored generation's manifest, oldest first."""
    d = Path(root) / GENERATIONS_DIR
    out = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            out.append(parse_meta(p.read_text(encoding="utf-8"), p))
        except (IndexFormatError, OSError):
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
    from hipporag.index.format import read_meta

    root = Path(root).absolute()
    with WriteLock(root):
        current = read_meta(root)
        swept = sweep_orphans(root, current)
        leased = leased_generations(root)
        now = time.time()
        keep, drop = [], []
        for m in history(root):
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

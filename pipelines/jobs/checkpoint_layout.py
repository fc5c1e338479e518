"""The names in a checkpoint folder: which are the toolkit's, and what the folder holds.

:mod:`pipelines.jobs.checkpoint` writes the folder (its docstring shows the
layout); this module knows its names. :func:`check_claimable` says whether a
folder may be used (new, empty, carrying :data:`MARKER_FILE`, or written by an
earlier version), :func:`ours_in_namespace` which files a clean-up may delete,
and :func:`checkpoint_status` reads what is there without taking the lock.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> check_claimable(root)  # empty: fine
    >>> (root / "embedding-0123456789ab").mkdir()
    >>> is_namespace_dir(root / "embedding-0123456789ab")
    True
    >>> checkpoint_status(root)["namespaces"]
    {'embedding-0123456789ab': {'batches': 0, 'bytes': 0}}
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from hipporag.errors import JobError
from hipporag.fsio import TMP_MARK, temp_owner

JOB_FILE = "job.json"
LOCK_FILE = ".lock"
FINGERPRINT_FILE = "fingerprint.json"
MARKER_FILE = ".hipporag-checkpoints"
SUFFIX = {"openie": ".jsonl", "embedding": ".npy"}
_NAMESPACE_RE = re.compile(r"^(openie|embedding)-[0-9a-f]{12}$")
_BATCH_RE = re.compile(r"^[0-9a-f]{32}\.(jsonl|npy)$")
MARKER_TEXT = '{"kind": "hipporag-checkpoints", "version": 1}\n'


def is_namespace_dir(path: Path) -> bool:
    """Whether ``path`` is a namespace folder as :meth:`CheckpointStore.namespace` names them."""
    return path.is_dir() and not path.is_symlink() and bool(_NAMESPACE_RE.match(path.name))


def ours_in_namespace(path: Path) -> bool:
    """Whether a file in a namespace folder has a name the toolkit makes."""
    if path.is_symlink() or not path.is_file():
        return False
    if path.name == FINGERPRINT_FILE or _BATCH_RE.match(path.name):
        return True
    return TMP_MARK in path.name and temp_owner(path) is not None


def check_claimable(root: Path) -> None:
    """Raise :class:`JobError` unless ``root`` may be used as a checkpoint folder.

    It may when it does not exist yet, is empty, carries the marker, or holds
    only what an earlier version of the toolkit wrote there.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "thesis.tex").write_text("mine")
        >>> check_claimable(d)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hipporag.errors.JobError: checkpoint folder ... was not created by hipporag ...
    """
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise JobError(
            f"checkpoint path {root} exists and is not a folder",
            hint="pass a new or empty folder as --checkpoint-dir (job.checkpoint_dir)",
        )
    if not root.is_dir() or (root / MARKER_FILE).is_file():
        return
    if any(root.iterdir()) and not _looks_like_old_checkpoints(root):
        raise JobError(
            f"checkpoint folder {root} is not empty and was not created by hipporag "
            f"(no {MARKER_FILE} file); refusing to write or delete anything in it",
            hint="pass a new or empty folder as --checkpoint-dir (job.checkpoint_dir), e.g. "
            f"{root / 'hipporag.checkpoints'}",
        )


def _looks_like_old_checkpoints(root: Path) -> bool:
    """A checkpoint folder written before the marker existed: only our names in it."""
    job = read_json(root / JOB_FILE)
    if not job or "fingerprint" not in job or "spec" not in job:
        return False
    for p in root.iterdir():
        if p.name in (JOB_FILE, LOCK_FILE) and p.is_file() and not p.is_symlink():
            continue
        if TMP_MARK in p.name and temp_owner(p) is not None:
            continue
        if is_namespace_dir(p) and all(ours_in_namespace(q) for q in p.iterdir()):
            continue
        return False
    return True


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def checkpoint_status(root: str | os.PathLike[str]) -> dict[str, Any]:
    """What a checkpoint directory holds, read without locking (cheap).

    Returns:
        ``{"exists", "fingerprint", "stages": {stage: {"namespace", "planned",
        "done"}}, "namespaces": {name: {"batches", "bytes"}}}``.
    """
    r = Path(root)
    out: dict[str, Any] = {"path": str(r), "exists": r.is_dir(), "stages": {}, "namespaces": {}}
    if not r.is_dir():
        return out
    job = read_json(r / JOB_FILE) or {}
    out["fingerprint"] = job.get("fingerprint")
    out["started"] = job.get("started")
    for d in sorted(p for p in r.iterdir() if is_namespace_dir(p)):
        stage = d.name.split("-", 1)[0]
        files = list(d.glob(f"*{SUFFIX.get(stage, '')}")) if stage in SUFFIX else []
        out["namespaces"][d.name] = {
            "batches": len(files),
            "bytes": sum(f.stat().st_size for f in files),
        }
    for stage, info in (job.get("stages") or {}).items():
        if stage not in SUFFIX or not isinstance(info, dict):
            continue
        ns_dir = r / str(info.get("namespace"))
        keys = info.get("keys") or []
        done = {p.name[: -len(SUFFIX[stage])] for p in ns_dir.glob(f"*{SUFFIX[stage]}")}
        out["stages"][stage] = {
            "namespace": info.get("namespace"),
            "planned": len(keys),
            "done": sum(k in done for k in keys),
        }
    return out


__all__ = [
    "FINGERPRINT_FILE",
    "JOB_FILE",
    "LOCK_FILE",
    "MARKER_FILE",
    "MARKER_TEXT",
    "SUFFIX",
    "check_claimable",
    "checkpoint_status",
    "is_namespace_dir",
    "ours_in_namespace",
    "read_json",
]

"""Durable per-batch checkpoints, so a killed job redoes only unfinished batches.

Layout of a checkpoint directory::

    CKPT/
      job.json                   spec fingerprint, planned batches per stage
      .lock                      held (flock) by the running job
      openie-<fp>/               one namespace per OpenIE configuration
        fingerprint.json         what the namespace's results depend on
        <batch key>.jsonl        header line + one Extraction per passage
      embedding-<fp>/            one namespace per embedding configuration
        <batch key>.npy          float32 [n_texts, dim]

A batch key is a content hash (the batch's passage ids or texts plus the
component), so a batch is reused only for exactly the same work. Results of a
changed configuration go to a new namespace and never mix with old ones.
Files are written to a temporary name, fsynced and renamed: a ``kill -9`` at
any moment leaves either a complete file or none.

Example:
    >>> import tempfile
    >>> store = CheckpointStore(tempfile.mkdtemp())
    >>> store.open("abc", {})
    >>> ns = store.namespace("embedding", {"model": "m"})
    >>> ns.put("k1", b"data"); ns.has("k1"), ns.path("k1").suffix
    (True, '.npy')
    >>> store.close()
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from hipporag.errors import JobError
from pipelines.jobs.spec import digest

JOB_FILE = "job.json"
LOCK_FILE = ".lock"
FINGERPRINT_FILE = "fingerprint.json"
SUFFIX = {"openie": ".jsonl", "embedding": ".npy"}


def durable_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where directories cannot be fsynced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Namespace:
    """The checkpoints of one stage under one configuration fingerprint.

    Args:
        root: The namespace directory (created if missing).
        stage: ``"openie"`` or ``"embedding"`` (decides the file suffix).

    Example:
        >>> import tempfile
        >>> ns = Namespace(Path(tempfile.mkdtemp()), "openie")
        >>> ns.put("k", b"x"); sorted(ns.keys()), ns.read("k")
        (['k'], b'x')
    """

    def __init__(self, root: Path, stage: str) -> None:
        self.root = root
        self.stage = stage
        self.suffix = SUFFIX[stage]
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / f"{key}{self.suffix}"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> set[str]:
        return {p.name[: -len(self.suffix)] for p in self.root.glob(f"*{self.suffix}")}

    def put(self, key: str, data: bytes) -> None:
        """Store one finished batch durably."""
        durable_write(self.path(key), data)

    def read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def discard(self, key: str) -> None:
        """Drop a batch file found unusable, so that it is computed again."""
        self.path(key).unlink(missing_ok=True)


class CheckpointStore:
    """A job's checkpoint directory. Only one job may use it at a time.

    Args:
        root: The directory (created on :meth:`open`).

    Example:
        >>> store = CheckpointStore("/tmp/idx.checkpoints")      # doctest: +SKIP
        >>> store.open(spec.fingerprint(), spec.to_dict())       # doctest: +SKIP
        >>> ns = store.namespace("openie", {"kind": "spacy"})    # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.previous_fingerprint: str | None = None
        self._lock_fd: int | None = None
        self._job: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------
    def open(self, fingerprint: str, spec: dict[str, Any], *, clear: bool = False) -> None:
        """Lock the directory, sweep leftovers of killed runs and record the spec.

        Args:
            fingerprint: The spec's fingerprint (compared with the previous run's).
            spec: The spec as a dict, recorded for people reading ``job.json``.
            clear: Delete every checkpoint first (a fresh run).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        if clear:
            for p in self.root.iterdir():
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
            (self.root / JOB_FILE).unlink(missing_ok=True)
        old = read_json(self.root / JOB_FILE)
        self.previous_fingerprint = old.get("fingerprint") if old else None
        for tmp in self.root.glob("*/.*.tmp-*"):
            tmp.unlink(missing_ok=True)  # we hold the lock: no live writer owns them
        self._job = {
            "fingerprint": fingerprint,
            "spec": spec,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "stages": {},
        }
        self._save_job()

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def __enter__(self) -> CheckpointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lock(self) -> None:
        import fcntl

        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JobError(
                f"another job is running with checkpoint directory {self.root}",
                hint="wait for it to finish, or give this job its own checkpoint_dir",
            ) from None
        self._lock_fd = fd

    # -- namespaces --------------------------------------------------------
    def namespace(self, stage: str, fingerprint: dict[str, Any]) -> Namespace:
        """The namespace for ``stage`` results under exactly this configuration."""
        name = f"{stage}-{digest(fingerprint, 12)}"
        ns = Namespace(self.root / name, stage)
        fp_path = ns.root / FINGERPRINT_FILE
        if not fp_path.is_file():
            text = json.dumps(fingerprint, indent=2, sort_keys=True, default=str) + "\n"
            durable_write(fp_path, text.encode("utf-8"))
        return ns

    def record_stage(self, stage: str, namespace: Namespace, keys: list[str], reused: int) -> None:
        """Note in ``job.json`` which batches a stage has (for ``hipporag job status``)."""
        self._job["stages"][stage] = {
            "namespace": namespace.root.name,
            "planned": len(keys),
            "reused_at_start": reused,
            "keys": keys,
        }
        self._save_job()

    def _save_job(self) -> None:
        text = json.dumps(self._job, indent=2, sort_keys=True, default=str) + "\n"
        durable_write(self.root / JOB_FILE, text.encode("utf-8"))

    def stale_namespaces(self, current: list[Namespace]) -> list[str]:
        """Namespaces of other configurations (left by earlier runs)."""
        keep = {ns.root.name for ns in current}
        return (
            sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name not in keep)
            if self.root.is_dir()
            else []
        )

    def remove(self) -> None:
        """Delete the whole checkpoint directory (after a successful run, if asked)."""
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)


def read_json(path: Path) -> dict[str, Any] | None:
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
    for d in sorted(p for p in r.iterdir() if p.is_dir()):
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
    "CheckpointStore",
    "Namespace",
    "checkpoint_status",
    "durable_write",
    "fsync_dir",
]

"""Durable per-batch checkpoints, so a killed job redoes only unfinished batches.

Layout of a checkpoint directory::

    CKPT/
      .hipporag-checkpoints      marker: this folder was made by hipporag
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
Files are written through :mod:`hipporag.fsio` (temporary name, fsync,
rename): a ``kill -9`` at any moment leaves either a complete file or none.

Nothing the toolkit did not create is ever deleted. A checkpoint folder is
used only if it is new, empty, or carries the marker file; ``--fresh`` and
the clean-up after a successful run (``keep_checkpoints = false``) remove
only files whose names the toolkit makes (``job.json``, ``.lock``, the
marker, ``<stage>-<fp>/`` folders with ``fingerprint.json`` and batch files,
and temporaries of dead writers), and a folder only once it is empty. A
file of the user's inside stays, with a warning.

Which names are the toolkit's, whether a folder may be claimed and the
lock-free status read live in :mod:`pipelines.jobs.checkpoint_layout`.

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

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from hipporag.errors import JobError
from hipporag.fsio import TMP_MARK, atomic_write_bytes, fsync_dir, sweep_temporaries, temp_owner
from hipporag.log import get_logger
from pipelines.jobs.checkpoint_layout import (  # MARKER_FILE and the functions: re-exported
    FINGERPRINT_FILE,
    JOB_FILE,
    LOCK_FILE,
    MARKER_FILE,
    MARKER_TEXT,
    SUFFIX,
    check_claimable,
    checkpoint_status,
    is_namespace_dir,
    ours_in_namespace,
    read_json,
)
from pipelines.jobs.spec import digest

logger = get_logger(__name__)

# Older names of the durable-write helpers, kept for callers that import them from here;
# the one implementation is hipporag.fsio.
durable_write = atomic_write_bytes


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
        atomic_write_bytes(self.path(key), data)

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
        >>> import tempfile
        >>> from pipelines.jobs.spec import JobSpec
        >>> work = tempfile.mkdtemp()
        >>> spec = JobSpec.from_config([str(DEMO_CORPUS)], f"{work}/idx")
        >>> store = CheckpointStore(f"{work}/idx.checkpoints")
        >>> store.open(spec.fingerprint(), spec.to_dict())
        >>> ns = store.namespace("openie", {"kind": "spacy"})
        >>> ns.put("part-0", b"done")
        >>> ns.read("part-0"), ns.has("part-1")
        (b'done', False)
        >>> store.close()
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.previous_fingerprint: str | None = None
        self.previous_settings: str | None = None
        self._lock_fd: int | None = None
        self._job: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------
    def open(
        self,
        fingerprint: str,
        spec: dict[str, Any],
        *,
        clear: bool = False,
        settings: str | None = None,
    ) -> None:
        """Lock the directory, sweep leftovers of killed runs and record the spec.

        Args:
            fingerprint: The spec's fingerprint (compared with the previous run's).
            spec: The spec as a dict, recorded for people reading ``job.json``.
            clear: Delete every checkpoint first (a fresh run).
            settings: The fingerprint of the spec's settings alone (not its
                inputs), compared with the previous run's: another corpus is
                not a change of settings.
        """
        self.claim()
        self._lock()
        if clear:
            self._clear()
        old = read_json(self.root / JOB_FILE)
        self.previous_fingerprint = old.get("fingerprint") if old else None
        self.previous_settings = old.get("settings") if old else None
        for ns in self._namespace_dirs():
            for tmp in ns.iterdir():
                if TMP_MARK in tmp.name and temp_owner(tmp) is not None and tmp.is_file():
                    tmp.unlink(missing_ok=True)  # we hold the lock: no live writer owns them
        sweep_temporaries(self.root)
        self._job = {
            "fingerprint": fingerprint,
            "settings": settings,
            "spec": spec,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "stages": {},
        }
        self._save_job()

    def claim(self) -> None:
        """Create the folder with its marker, or check that an existing one is ours.

        Raises:
            JobError: The path exists and is not a folder, or is a non-empty
                folder without the marker (a folder of the user's: nothing in it
                is read, written or deleted).
        """
        root = self.root
        check_claimable(root)
        root.mkdir(parents=True, exist_ok=True)
        marker = root / MARKER_FILE
        if not marker.is_file():
            atomic_write_bytes(marker, MARKER_TEXT.encode("utf-8"))

    def _namespace_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if is_namespace_dir(p))

    def _clear(self) -> list[Path]:
        """Delete our checkpoint files (not the marker or lock); returns what was kept."""
        kept: list[Path] = []
        for ns in self._namespace_dirs():
            for p in ns.iterdir():
                if ours_in_namespace(p):
                    p.unlink(missing_ok=True)
                else:
                    kept.append(p)
            with contextlib.suppress(OSError):  # something of the user's is in it: it stays
                ns.rmdir()
        (self.root / JOB_FILE).unlink(missing_ok=True)
        if kept:
            logger.warning(
                "kept %d files in %s that hipporag did not create: %s",
                len(kept),
                self.root,
                ", ".join(str(p) for p in kept[:5]),
            )
        return kept

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

        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
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
            atomic_write_bytes(fp_path, text.encode("utf-8"))
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
        atomic_write_bytes(self.root / JOB_FILE, text.encode("utf-8"))

    def stale_namespaces(self, current: list[Namespace]) -> list[str]:
        """Namespaces of other configurations (left by earlier runs)."""
        keep = {ns.root.name for ns in current}
        return [p.name for p in self._namespace_dirs() if p.name not in keep]

    def remove(self) -> bool:
        """Delete our checkpoint files and the folder if nothing else is left in it.

        Only a folder with the marker is touched; files of the user's stay (and
        with them the folder). Returns True when the folder is gone.
        """
        if not (self.root / MARKER_FILE).is_file():
            self.close()
            raise JobError(
                f"not removing {self.root}: it has no {MARKER_FILE} file, so hipporag "
                "did not create it",
                hint="remove it yourself if it is no longer needed",
            )
        kept = self._clear()
        self.close()
        for name in (LOCK_FILE, MARKER_FILE):
            if not kept:
                (self.root / name).unlink(missing_ok=True)
        sweep_temporaries(self.root)
        try:
            self.root.rmdir()
        except OSError:
            left = sorted(p.name for p in self.root.iterdir())
            logger.warning(
                "left %s in place: it holds files hipporag did not create (%s)",
                self.root,
                ", ".join(left[:5]),
            )
            return False
        return True


__all__ = [
    "MARKER_FILE",
    "CheckpointStore",
    "Namespace",
    "check_claimable",
    "checkpoint_status",
    "durable_write",
    "fsync_dir",
    "is_namespace_dir",
]

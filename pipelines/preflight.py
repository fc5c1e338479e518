"""Checks on output paths made before any work starts, so a run cannot fail at its end.

An index is written next to its target and renamed into place at the very
end; a checkpoint folder is written all along. Both must therefore be on a
writable file system, the target must not be a mount point (a mount point
cannot be replaced by a rename), and there should be room for the new index
while the old one still exists.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "idx"
    >>> check_output_dir(out, need_bytes=1)
    >>> check_output_dir("/")
    Traceback (most recent call last):
    ...
    hipporag.errors.ConfigError: output / is a mount point; an index replaces its folder by a rename, which cannot replace a mount point
      how to fix: write the index into a folder inside it, e.g. --out /index
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hipporag.errors import ConfigError
from hipporag.fsio import temp_name


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe_writable(folder: Path, what: str, path: Path) -> None:
    """Create and remove one temporary file of ours in ``folder`` (root ignores modes)."""
    probe = temp_name(folder / ".hipporag-write-probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        hint = (
            "choose a folder on a writable file system"
            if err.errno == errno.EROFS
            else f"make {folder} writable, or choose another path"
        )
        raise ConfigError(
            f"cannot write the {what} {path}: {folder}: {reason}", hint=hint
        ) from None
    finally:
        probe.unlink(missing_ok=True)


def tree_bytes(path: str | os.PathLike[str]) -> int:
    """Total size of the files below ``path`` (0 when it does not exist).

    Example:
        >>> tree_bytes("/nonexistent/x")
        0
    """
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    total = 0
    for q in p.rglob("*") if p.is_dir() else ():
        try:
            if q.is_file() and not q.is_symlink():
                total += q.stat().st_size
        except OSError:
            continue
    return total


def estimate_index_bytes(inputs: Iterable[str | os.PathLike[str]], output: Path) -> int:
    """A lower bound of the new index's size: the old index there, or the corpus text.

    The index stores every passage's text at least once, and a rebuild is about
    as large as the index it replaces.
    """
    return max(tree_bytes(output), sum(tree_bytes(i) for i in inputs))


def check_output_dir(
    path: str | os.PathLike[str],
    *,
    need_bytes: int = 0,
    what: str = "output",
    replaced: bool = True,
) -> None:
    """Fail early unless ``path`` can be written (and, if ``replaced``, renamed into place).

    Args:
        path: The folder to write (it may not exist yet).
        need_bytes: Free space needed on its file system (0: not checked).
        what: How to name it in messages ("output", "checkpoint folder").
        replaced: The folder is swapped in by a rename at the end (an index),
            so it may not be a mount point.

    Raises:
        ConfigError: Not a folder, a mount point, not writable, or too little space.
    """
    p = Path(path).expanduser().absolute()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{what} {p} exists and is not a folder", hint="choose another path")
    if replaced and p.is_dir() and os.path.ismount(p):
        raise ConfigError(
            f"{what} {p} is a mount point; an index replaces its folder by a rename, "
            "which cannot replace a mount point",
            hint=f"write the index into a folder inside it, e.g. --out {p / 'index'}",
        )
    base = _existing_ancestor(p.parent if replaced else p)
    if not base.is_dir():
        raise ConfigError(
            f"cannot create the {what} {p}: {base} is not a folder",
            hint="choose a path whose parent is a folder",
        )
    _probe_writable(base, what, p)
    if need_bytes > 0:
        free = shutil.disk_usage(base).free
        if free < need_bytes:
            raise ConfigError(
                f"not enough free space for the {what} {p}: about {need_bytes / 1e6:.1f} MB "
                f"needed, {free / 1e6:.1f} MB free on {base}",
                hint="free some space or choose a path on another file system",
            )


def check_job_paths(spec: Any) -> None:
    """:func:`check_output_dir` for a job's output and its checkpoint folder."""
    out = Path(spec.output_path)
    check_output_dir(out, need_bytes=estimate_index_bytes(spec.inputs, out))
    check_output_dir(spec.checkpoint_path, what="checkpoint folder", replaced=False)


__all__ = ["check_job_paths", "check_output_dir", "estimate_index_bytes", "tree_bytes"]

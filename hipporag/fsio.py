"""Durable, atomic file writes: the one home for fsync-and-rename.

Every writer of the toolkit (the index writer, job checkpoints, the ONNX
artifact cache, the LLM cache, commit points) goes through these helpers, so
a crash at any instant leaves either the old file or the new one, never a
torn one. Temporary files are named ``.NAME.tmp-PID-RAND`` next to their
target: they are recognisably ours, and :func:`sweep_temporaries` removes
the ones whose writer process is gone.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(d / "a.json", '{"x": 1}')
    >>> (d / "a.json").read_text()
    '{"x": 1}'
    >>> sorted(p.name for p in d.iterdir())
    ['a.json']
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

TMP_MARK = ".tmp-"


def temp_name(target: Path) -> Path:
    """A unique sibling of ``target`` for writing before the rename.

    The name carries the writer's pid, so leftovers of dead writers can be told
    apart from a live writer's file.

    Example:
        >>> temp_name(Path("/x/meta.json")).name.startswith(".meta.json.tmp-")
        True
    """
    return target.with_name(f".{target.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make renames inside ``path`` durable (no-op where directories cannot be fsynced)."""
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


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush one file's data to disk."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_tree(root: str | os.PathLike[str]) -> None:
    """Flush every file below ``root``, then every directory (deepest first)."""
    root = Path(root)
    dirs = [root]
    for p in root.rglob("*"):
        if p.is_symlink():
            continue
        if p.is_file():
            fsync_file(p)
        elif p.is_dir():
            dirs.append(p)
    for d in sorted(dirs, key=lambda q: len(q.parts), reverse=True):
        fsync_dir(d)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename).

    Args:
        path: the target file; its directory must exist.
        data: the complete new content.
        mode: file permissions for the new file (e.g. ``0o600`` for private caches).
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = os.open(tmp, flags, 0o666 if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int | None = None) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def durable_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` to ``dst`` (replacing a file) and make it durable."""
    os.replace(src, dst)
    fsync_dir(Path(dst).parent)


def file_checksum(path: str | os.PathLike[str]) -> str:
    """blake2b (128 bits) of a file's bytes, as hex."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine.

    Example:
        >>> pid_alive(os.getpid())
        True
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_owner(path: Path) -> int | None:
    """The writer pid encoded in a temporary name made by :func:`temp_name` (else None).

    Example:
        >>> temp_owner(Path(".a.json.tmp-123-abcd1234"))
        123
        >>> temp_owner(Path("a.json")) is None
        True
    """
    name = path.name
    if TMP_MARK not in name:
        return None
    tail = name.rsplit(TMP_MARK, 1)[1]
    head = tail.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def sweep_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove our temporary files and folders whose writer process is dead.

    Only names made by :func:`temp_name` are touched; anything else in the
    folder is left alone. Returns what was removed.
    """
    import shutil

    removed: list[Path] = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for p in directory.iterdir():
        pid = temp_owner(p)
        if pid is None or pid_alive(pid):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


__all__ = [
    "TMP_MARK",
    "atomic_write_bytes",
    "atomic_write_text",
    "durable_rename",
    "file_checksum",
    "fsync_dir",
    "fsync_file",
    "fsync_tree",
    "pid_alive",
    "sweep_temporaries",
    "temp_name",
    "temp_owner",
]

"""The one-writer lock of an index directory: ``fcntl.flock`` on ``write.lock``.

The lock is the kernel's: a writer holds an exclusive ``flock`` on the file
``write.lock``; a second writer's ``flock`` fails at once (or after
``wait_s``), so two holders are impossible, and a writer that dies (even by
SIGKILL) releases it with its file descriptor. Inside the file, the holder
writes an owner record (``{"pid", "host", "time"}``) used only for messages.

On release the holder unlinks ``write.lock`` *while still holding it*; an
acquirer that obtained the lock checks that the path still names the inode it
locked and otherwise retries, so the unlink can never let two holders in
(the classic unlink race of lock files). ``flock`` works on local file
systems and on NFSv4 (Linux maps it to a byte-range lock there).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with WriteLock(d) as lock:
    ...     lock.owner()["pid"] == os.getpid()
    True
    >>> (d / "write.lock").exists()
    False
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError
from hipporag.index.format import LOCK_FILE

WAIT_ENV = "HIPPORAG_LOCK_WAIT"


def default_wait() -> float:
    """Seconds a writer waits for the lock (``HIPPORAG_LOCK_WAIT``, default 0: fail at once)."""
    try:
        wait = float(os.environ.get(WAIT_ENV, 0))
    except ValueError:
        return 0.0
    return wait if 0 <= wait < float("inf") else 0.0


class IndexLockedError(IndexFormatError):
    """Another live process is writing this index."""


class WriteLock:
    """An exclusive, process-wide lock on an index directory.

    Args:
        root: the index directory (created if missing only by callers that
            write an index; the lock itself never creates folders).
        wait_s: how long :meth:`acquire` waits for another holder (0: fail at once;
            default ``HIPPORAG_LOCK_WAIT`` seconds, else 0). Writers (add, delete,
            gc, ...) use the default, so several server processes sharing an
            index can queue their changes by setting it.
    """

    def __init__(self, root: str | os.PathLike[str], *, wait_s: float | None = None) -> None:
        self.path = Path(root) / LOCK_FILE
        self.wait_s = default_wait() if wait_s is None else float(wait_s)
        self.held = False
        self._fd: int | None = None

    def acquire(self) -> WriteLock:
        """Take the lock; raise :class:`IndexLockedError` naming the holder if it is taken."""
        if self.held:
            raise IndexLockedError(f"{self.path} is already held by this object")
        if not self.path.parent.is_dir():
            raise IndexFormatError(f"no index at {self.path.parent}", hint="check the index path")
        deadline = time.monotonic() + max(0.0, self.wait_s)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise self._locked_error() from None
                time.sleep(0.01)
                continue
            if self._same_file(fd):
                break
            os.close(fd)  # the holder unlinked it on release: lock the new file
        self._fd, self.held = fd, True
        self._write_owner()
        return self

    def _same_file(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)

    def _write_owner(self) -> None:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
        data = json.dumps(record).encode()
        assert self._fd is not None
        try:  # best effort: the record only names the holder (a full disk must not stop gc)
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)
        except OSError:
            pass

    def owner(self) -> dict[str, Any]:
        """The holder's owner record (``{}`` where none is readable)."""
        try:
            rec = json.loads(self.path.read_bytes() or b"{}")
        except (OSError, ValueError):
            return {}
        return rec if isinstance(rec, dict) else {}

    def _locked_error(self) -> IndexLockedError:
        rec = self.owner()
        pid, host = rec.get("pid"), rec.get("host")
        who = f"process {pid}" + (f" on {host}" if host and host != socket.gethostname() else "")
        if pid is None:
            who = "another process"
        return IndexLockedError(
            f"{self.path.parent} is being changed by {who}",
            hint=f"wait for {who} to finish (or stop it), then retry",
        )

    def release(self) -> None:
        """Give the lock up (unlinking ``write.lock`` while still holding it)."""
        if not self.held or self._fd is None:
            return
        try:
            if self._same_file(self._fd):
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd, self.held = None, False

    def __enter__(self) -> WriteLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


__all__ = ["WAIT_ENV", "IndexLockedError", "WriteLock", "default_wait"]

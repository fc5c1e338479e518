"""Reader leases with a heartbeat: which generations readers still use, across machines.

A reader (an :class:`~hipporag.index.Index`, a server process, a Ray Serve
replica on another machine sharing the volume) holds a :class:`Lease` on the
generation it reads: a small file ``leases/gN.RAND.lease`` whose modification
time is its heartbeat. A background thread of the process renews every live
lease of the process (``os.utime``) every ``ttl_s / 4`` seconds; ``gc`` keeps
a generation while one of its leases has a heartbeat younger than its
``ttl_s``. No process ids are probed across machines, so a reader in another
PID namespace or on another host keeps its generation. Ages are measured
against the file system's own clock (the modification time of a file touched
just before), so clocks of different machines need not agree.

A lease of a process that died is dropped when its heartbeat is older than
its TTL, or at once where the lease was written on this host, in this PID
namespace and since this boot, and its process is gone.

The TTL is ``HIPPORAG_LEASE_TTL`` seconds (default 60).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with Lease(d, 3) as lease:
    ...     live_generations(d)
    {3}
    >>> live_generations(d)
    set()
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import threading
import time
import uuid
import weakref
from pathlib import Path

from hipporag.fsio import pid_alive
from hipporag.index.format import LEASES_DIR
from hipporag.log import get_logger

logger = get_logger(__name__)
TTL_ENV = "HIPPORAG_LEASE_TTL"
DEFAULT_TTL_S = 60.0
SUFFIX = ".lease"


def default_ttl() -> float:
    """The lease TTL in seconds (``HIPPORAG_LEASE_TTL``, default 60)."""
    try:
        ttl = float(os.environ.get(TTL_ENV, DEFAULT_TTL_S))
    except ValueError:
        return DEFAULT_TTL_S
    return ttl if ttl > 0 and ttl == ttl else DEFAULT_TTL_S


def _identity() -> dict[str, object]:
    """Where this process runs: host, boot and PID namespace (to spot dead local readers)."""
    ident: dict[str, object] = {"host": socket.gethostname(), "pid": os.getpid()}
    with contextlib.suppress(OSError):
        ident["boot"] = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    with contextlib.suppress(OSError):
        ident["pidns"] = os.stat("/proc/self/ns/pid").st_ino
    return ident


class Lease:
    """A heartbeat lease on one generation of an index.

    Args:
        root: the index directory.
        generation: the generation read.
        ttl_s: how long the lease stays live without a heartbeat.

    Use :meth:`acquire` / :meth:`release` (or ``with``); :meth:`renew` is
    called by the process's heartbeat thread and may be called by hand.
    """

    def __init__(
        self, root: str | os.PathLike[str], generation: int, *, ttl_s: float | None = None
    ):
        self.root = Path(root)
        self.generation = int(generation)
        self.ttl_s = float(ttl_s) if ttl_s is not None else default_ttl()
        self.path = self.root / LEASES_DIR / f"g{self.generation}.{uuid.uuid4().hex[:16]}{SUFFIX}"
        self.held = False
        self._guard = threading.Lock()  # renew (heartbeat thread) vs. release

    def acquire(self) -> Lease:
        """Write the lease file and start renewing it (raises ``OSError`` if unwritable)."""
        with self._guard:
            self._write()
            self.held, self._pid = True, os.getpid()
        _Heartbeat.get().add(self)
        return self

    def _write(self) -> None:
        record = {"generation": self.generation, "ttl_s": self.ttl_s, **_identity()}
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text(json.dumps(record))

    def renew(self) -> None:
        """Refresh the heartbeat (re-creating the file if something removed it)."""
        with self._guard:
            if not self.held:
                return
            try:
                os.utime(self.path)
            except FileNotFoundError:
                logger.warning("lease %s was removed while held; writing it again", self.path)
                with contextlib.suppress(OSError):
                    self._write()
            except OSError:
                pass

    def release(self) -> None:
        """Drop the lease (idempotent; a forked child never drops its parent's)."""
        if getattr(self, "_pid", None) != os.getpid():
            return  # checked first: a lock copied by fork() may be held forever
        with self._guard:
            if not (self.held and getattr(self, "_pid", None) == os.getpid()):
                return
            self.held = False
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
        _Heartbeat.get().discard(self)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # a reader dropped without close(): its lease goes too
        with contextlib.suppress(Exception):
            self.release()


class _Heartbeat:
    """One daemon thread per process renewing its leases."""

    _instance: _Heartbeat | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        self.leases: weakref.WeakSet[Lease] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()  # a new lease may need an earlier heartbeat
        self.pid = os.getpid()

    @classmethod
    def get(cls) -> _Heartbeat:
        with cls._guard:
            if cls._instance is None or cls._instance.pid != os.getpid():  # new after fork
                cls._instance = cls()
            return cls._instance

    def add(self, lease: Lease) -> None:
        with self.lock:
            self.leases.add(lease)
            self.wake.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="hipporag-lease", daemon=True)
                self.thread.start()

    def discard(self, lease: Lease) -> None:
        with self.lock:
            self.leases.discard(lease)

    def _run(self) -> None:
        while True:
            self.wake.wait(self._beat())
            self.wake.clear()

    def _beat(self) -> float:
        """Renew every lease; the pause until the next beat (no lease stays referenced)."""
        with self.lock:
            leases = list(self.leases)
        for lease in leases:
            lease.renew()
        return max(0.05, min((x.ttl_s for x in leases), default=4.0) / 4)


@atexit.register
def _release_all() -> None:
    """A process that exits releases its leases (one killed leaves them to expire)."""
    inst = _Heartbeat._instance
    if inst is not None and inst.pid == os.getpid():
        for lease in list(inst.leases):
            lease.release()


def _fs_now(d: Path) -> float:
    """The file system's clock: the mtime of a file touched now (else this machine's)."""
    probe = d / ".clock"
    try:
        probe.touch()
        return probe.stat().st_mtime
    except OSError:
        return time.time()


def _is_live(p: Path, now: float, me: dict[str, object]) -> bool:
    try:
        age = now - p.stat().st_mtime
        record = json.loads(p.read_text() or "{}")
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        record = {}
    try:
        ttl = float(record.get("ttl_s", DEFAULT_TTL_S))
    except (TypeError, ValueError):
        ttl = DEFAULT_TTL_S
    local = all(record.get(k) == me.get(k) for k in ("host", "boot", "pidns")) and "pidns" in me
    pid = record.get("pid")
    if local and isinstance(pid, int) and not pid_alive(pid):
        return False  # a reader of this machine and namespace that is gone
    return age < ttl


def live_generations(root: str | os.PathLike[str], *, remove_stale: bool = False) -> set[int]:
    """Generations held by a live lease; stale lease files are removed if asked."""
    d = Path(root) / LEASES_DIR
    out: set[int] = set()
    if not d.is_dir():
        return out
    now, me = _fs_now(d), _identity()
    for p in d.iterdir():
        head = p.name.split(".", 1)[0] if p.name.endswith(SUFFIX) else ""
        if not (head.startswith("g") and head[1:].isdigit()):
            continue
        if _is_live(p, now, me):
            out.add(int(head[1:]))
        elif remove_stale:
            with contextlib.suppress(OSError):
                p.unlink()
    return out


def take_lease(root: Path, generation: int) -> Lease | None:
    """Lease ``generation`` for this process (None where the folder is read-only)."""
    try:
        return Lease(root, generation).acquire()
    except OSError:
        return None


def drop_lease(lease: Lease | None) -> None:
    """Release a lease from :func:`take_lease` (None is fine)."""
    if lease is not None:
        lease.release()


__all__ = [
    "DEFAULT_TTL_S",
    "TTL_ENV",
    "Lease",
    "default_ttl",
    "drop_lease",
    "live_generations",
    "take_lease",
]

"""What the CLI says after a Ctrl-C or an exception from a library that hides an OS error.

Example:
    >>> is_interrupt(RuntimeError("Query interrupted"))
    True
    >>> import errno
    >>> as_os_error(RuntimeError("IO Error: No space left on device")).errno == errno.ENOSPC
    True
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_SIGINT_SEEN = threading.Event()


@contextmanager
def watching_ctrl_c(process_exit: bool = False) -> Iterator[None]:
    """Remember whether a Ctrl-C arrived while the block ran (still raising KeyboardInterrupt).

    A Ctrl-C can land inside a library that turns it into some other error (an
    import cut half way, a C extension's own exception); with this, the CLI
    still reports it as the interrupt it was. A Ctrl-C that lands inside an
    import is held until the import is done (see :func:`_importing`).

    Args:
        process_exit: The process ends after the block (the ``hipporag``
            command itself): from then on Ctrl-C is ignored, since the work is
            done and a Ctrl-C in the interpreter's teardown (seconds with
            torch loaded) would only turn the true exit code into a kill.
    """
    _SIGINT_SEEN.clear()
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # Ctrl-C ignored (a background job) or handled by the caller
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        _SIGINT_SEEN.set()
        if _importing(frame):  # raise once the import is done (see _importing)
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
            timer.daemon = True
            timer.start()
            return
        signal.default_int_handler(signum, frame)

    try:
        old = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if process_exit else old)


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside an import.

    A KeyboardInterrupt raised there can leave a half-initialised module behind
    (a later AttributeError), or cross a C++ extension that imports Python code
    and cannot pass exceptions on (torch: pybind11 aborts the process).
    """
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def interrupted_message() -> str:
    """The true state after a Ctrl-C: committed generations of this process, if any."""
    writer = sys.modules.get("hipporag.index.writer")
    done = list(getattr(writer, "COMMITTED", []) or [])
    if not done:
        return "interrupted; any index at the target path is unchanged"
    path, generation = done[-1]
    return f"interrupted after committing generation {generation} of {path}; that change is saved"


def is_interrupt(err: BaseException) -> bool:
    """A library's own 'interrupted' exception, or any error raised after a Ctrl-C arrived.

    DuckDB turns Ctrl-C into its own exception; an import cut by Ctrl-C can
    leave a half-initialised module that fails later with an AttributeError.
    """
    if _SIGINT_SEEN.is_set() or type(err).__name__ == "InterruptException":
        return True
    return isinstance(err, RuntimeError) and str(err).strip() == "Query interrupted"


_MESSAGES = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
}


def as_os_error(err: BaseException) -> OSError | None:
    """The OS error inside another library's exception (DuckDB's IOException), or None."""
    if isinstance(err, OSError):
        return err
    text = str(err).lower()
    for needle, code in _MESSAGES.items():
        if needle in text:
            detail = " ".join(str(err).split())[:200]
            return OSError(code, f"{needle.capitalize()} ({detail})")
    cause = err.__cause__ or err.__context__
    return as_os_error(cause) if cause is not None and cause is not err else None


__all__ = ["as_os_error", "interrupted_message", "is_interrupt"]

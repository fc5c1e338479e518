"""Fault injection for crash tests: kill this process at a named point.

The index writer and the garbage collector call :func:`crash_point` at the
instants where a crash must leave the index consistent; tests set
``HIPPORAG_CRASH_AT=NAME`` (e.g. ``commit:before-pointer``) in a child
process and check what a reader sees afterwards. Unset, it does nothing.

Example:
    >>> crash_point("commit:before-pointer")  # HIPPORAG_CRASH_AT is not set: a no-op
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "HIPPORAG_CRASH_AT"
INTERRUPT_ENV = "HIPPORAG_INTERRUPT_AT"


def crash_point(name: str) -> None:
    """Fault injection for tests: SIGKILL (or SIGINT) this process at the named point.

    Set ``HIPPORAG_CRASH_AT=NAME`` (e.g. ``commit:before-pointer``) to kill it
    there, ``HIPPORAG_INTERRUPT_AT=NAME`` to send it a Ctrl-C there.
    """
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(INTERRUPT_ENV) == name:
        os.kill(os.getpid(), signal.SIGINT)


__all__ = ["CRASH_ENV", "INTERRUPT_ENV", "crash_point"]

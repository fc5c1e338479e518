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
import sys


def interrupted_message() -> str:
    """The true state after a Ctrl-C: committed generations of this process, if any."""
    writer = sys.modules.get("hipporag.index.writer")
    done = list(getattr(writer, "COMMITTED", []) or [])
    if not done:
        return "interrupted; any index at the target path is unchanged"
    path, generation = done[-1]
    return f"interrupted after committing generation {generation} of {path}; that change is saved"


def is_interrupt(err: BaseException) -> bool:
    """A library's own 'interrupted' exception (DuckDB turns Ctrl-C into one)."""
    if type(err).__name__ == "InterruptException":
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

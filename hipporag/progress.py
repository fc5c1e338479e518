"""Progress bars that follow the logger level and the terminal.

Bars show when the ``hipporag`` logger is at INFO or lower *and* output is
interactive (a TTY or a Jupyter kernel, where the notebook widget is used).
They are off in batch jobs and CI logs, and can be forced with
``HIPPORAG_PROGRESS=1`` / ``0``.

Example:
    >>> for _ in progress(range(3), desc="demo"):
    ...     pass
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger("hipporag")


def in_notebook() -> bool:
    """True inside a Jupyter/IPython kernel."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()  # type: ignore[attr-defined]
    except Exception:
        return False
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def progress_enabled() -> bool:
    forced = os.environ.get("HIPPORAG_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "no", "")
    if logger.getEffectiveLevel() > logging.INFO:
        return False
    return in_notebook() or sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it"
) -> Iterator[T]:
    """Wrap an iterable in a progress bar when enabled, else return it unchanged."""
    if not progress_enabled():
        yield from iterable
        return
    if in_notebook():
        from tqdm.notebook import tqdm
    else:
        from tqdm import tqdm
    yield from tqdm(iterable, total=total, desc=desc, unit=unit, leave=False)


__all__ = ["in_notebook", "progress", "progress_enabled"]

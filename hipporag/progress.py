"""Progress bars that follow the logger level and the terminal.

In a terminal, bars show when the ``hipporag`` logger is at INFO or lower
*and* stderr is a TTY; they are off in batch jobs and CI logs. In a Jupyter
kernel they show by default, as the notebook widget (``tqdm.notebook``, or a
text bar when ipywidgets is not installed), unless the ``hipporag`` logger is
explicitly set above INFO (``logging.getLogger("hipporag").setLevel("WARNING")``).
``HIPPORAG_PROGRESS=1`` / ``0`` forces them on or off everywhere.

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

from hipporag.log import ROOT, get_logger

T = TypeVar("T")
logger = get_logger(__name__)
# Bars follow the level of the toolkit's root logger, ``hipporag``.
_toolkit = logging.getLogger(ROOT)


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


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def progress_enabled() -> bool:
    """Whether :func:`progress` draws a bar here (see the module docstring)."""
    forced = os.environ.get("HIPPORAG_PROGRESS")
    if forced is not None:
        return forced.strip().lower() not in ("0", "false", "no", "off", "")
    if in_notebook():
        # A kernel is interactive, but nobody configures logging there: the root
        # default (WARNING) must not hide bars. Only an explicit level does.
        return _toolkit.level <= logging.INFO  # NOTSET (0) counts as not set
    if _toolkit.getEffectiveLevel() > logging.INFO:
        return False
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it"
) -> Iterator[T]:
    """Wrap an iterable in a progress bar when enabled, else return it unchanged."""
    if not progress_enabled():
        yield from iterable
        return
    if in_notebook() and _widgets_available():
        from tqdm.notebook import tqdm
    else:
        from tqdm import tqdm
    yield from tqdm(iterable, total=total, desc=desc, unit=unit, leave=False)


__all__ = ["in_notebook", "progress", "progress_enabled"]

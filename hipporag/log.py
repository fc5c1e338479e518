"""Loggers: one ``hipporag`` hierarchy for every room of the toolkit.

Every module logs through ``get_logger(__name__)``, which names its logger
``hipporag.<module>`` (``hipporag.retrievers.dense``, ``hipporag.indexers.builder``,
...), so the whole toolkit is tuned at ``logging.getLogger("hipporag")`` and one
room alone at, e.g., ``logging.getLogger("hipporag.retrievers")``.

Example:
    >>> get_logger("retrievers.dense").name
    'hipporag.retrievers.dense'
    >>> get_logger("hipporag.index.reader").name
    'hipporag.index.reader'
"""

from __future__ import annotations

import logging

ROOT = "hipporag"


def get_logger(module: str) -> logging.Logger:
    """The logger of ``module`` (pass ``__name__``) inside the ``hipporag`` hierarchy."""
    if module == ROOT or module.startswith(ROOT + "."):
        return logging.getLogger(module)
    return logging.getLogger(f"{ROOT}.{module}")


__all__ = ["ROOT", "get_logger"]

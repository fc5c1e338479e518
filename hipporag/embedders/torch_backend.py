"""The torch backend: sentence-transformers on a CPU, a CUDA GPU or Apple's MPS.

Example:
    >>> from hipporag.config import EmbeddingConfig
    >>> emb = SentenceTransformerEmbedder(EmbeddingConfig(device="cpu"))  # MiniLM, offline
    >>> vecs = emb.encode(["Paris is in France."])
    >>> vecs.shape
    (1, 384)
    >>> emb.encode_query("Where is Paris?").shape   # fast path for one query
    (384,)
    >>> {k: emb.to_dict()[k] for k in ("backend", "device", "dtype")}
    {'backend': 'torch', 'device': 'cpu', 'dtype': 'float32'}
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.config import EmbeddingConfig
from hipporag.embedders.device import default_batch_size, resolve_device, resolve_dtype


class SentenceTransformerEmbedder:
    """Unit-norm float32 embeddings from a sentence-transformers model.

    The model loads lazily on first use (or :meth:`warm_up`). Objects pickle
    as their config only, so they are cheap to send to Ray workers.

    The device and precision are resolved when the object is made (an
    explicit ``"cuda"`` on a machine without one fails here, not later).

    Args:
        config: model name/path, batch size, device, dtype, optional prefixes.
        device: overrides ``config.device`` (e.g. a query device).

    Raises:
        ConfigError: the configured device is not available.
    """

    def __init__(self, config: EmbeddingConfig | None = None, *, device: str | None = None) -> None:
        self.config = config or EmbeddingConfig()
        spec = device or self.config.device
        self.device = resolve_device(spec)
        self.dtype = resolve_dtype(self.config.dtype, self.device, explicit_device=spec != "auto")
        self.batch_size = self.config.batch_size or default_batch_size("torch", self.device)
        self._device_spec = device
        self._model: Any = None
        self._fast: tuple[Any, Any, int] | bool | None = False  # False: not probed yet
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def dim(self) -> int:
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        return int(getter())

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                from hipporag.embedders.loading import load_sentence_transformer

                model = load_sentence_transformer(self.config.model, self.device, self.dtype)
                if self.config.max_seq_length:
                    model.max_seq_length = self.config.max_seq_length
                self._model = model

    def encode(
        self, texts: Sequence[str], *, is_query: bool = False, batch_size: int | None = None
    ) -> np.ndarray:
        """Encode texts; returns ``(len(texts), dim)`` float32, rows L2-normalised."""
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.config.query_prefix if is_query else self.config.passage_prefix
        items = [prefix + t for t in texts] if prefix else list(texts)
        vecs = self._model.encode(
            items,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if self.dtype != "float32":  # re-normalise after the cast from half precision
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return vecs

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query; returns a ``(dim,)`` float32 unit vector.

        For the common model layout (transformer, mean pooling, optional
        normalisation) this calls the tokenizer and the transformer directly
        under ``torch.inference_mode``, skipping ``SentenceTransformer.encode``'s
        batching machinery; the result equals :meth:`encode` to float rounding
        (checked to 1e-5 in the tests). Other layouts go through :meth:`encode`.
        """
        self.warm_up()
        fast = self._fast_path()
        if fast is None:
            return self.encode([text], is_query=True)[0]
        import torch

        tokenizer, model, max_len = fast
        prefix = self.config.query_prefix
        enc = tokenizer(
            prefix + text if prefix else text,
            truncation=True,
            max_length=max_len,
            return_tensors="pt",
        )
        if self.device != "cpu":
            enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state[0].float()
            mask = enc["attention_mask"][0].to(hidden.dtype).unsqueeze(-1)
            pooled = (hidden * mask).sum(0) / mask.sum().clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=0)
        return np.ascontiguousarray(pooled.cpu().numpy(), dtype=np.float32)

    def _fast_path(self) -> tuple[Any, Any, int] | None:
        """(tokenizer, transformer, max length) if the model is transformer + mean pooling."""
        if self._fast is not False:
            return self._fast  # type: ignore[return-value]
        fast = None
        try:
            modules = list(self._model)
            names = [type(m).__name__ for m in modules]
            if names[:2] == ["Transformer", "Pooling"] and names[2:] in ([], ["Normalize"]):
                pooling = modules[1].get_config_dict()
                mode = pooling.get("pooling_mode")
                mean_only = (
                    mode == "mean"
                    if mode is not None
                    else (
                        pooling.get("pooling_mode_mean_tokens") is True
                        and not any(
                            v
                            for k, v in pooling.items()
                            if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
                        )
                    )
                )
                auto = getattr(modules[0], "auto_model", None)
                tokenizer = getattr(self._model, "tokenizer", None)
                if mean_only and auto is not None and tokenizer is not None:
                    auto.eval()
                    fast = (tokenizer, auto, int(self._model.max_seq_length))
        except (TypeError, AttributeError, ValueError):
            fast = None
        self._fast = fast
        return fast

    def to_dict(self) -> dict[str, Any]:
        """The config plus what actually runs: ``backend``, ``device``, ``dtype``, ``batch_size``."""
        return {
            "kind": "sentence-transformers",
            **self.config.to_dict(),
            "backend": "torch",
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": self.batch_size,
        }

    def __getstate__(self) -> dict[str, Any]:
        # the device is resolved again where the object lands (a Ray worker's GPU)
        return {"config": self.config, "device": self._device_spec}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"], device=state.get("device"))  # type: ignore[misc]


__all__ = ["SentenceTransformerEmbedder"]

"""Export a sentence-transformers model to a self-contained ONNX artifact, cached on disk.

An artifact is a directory with three files:

* ``model.onnx``: the transformer (token ids -> last hidden state), exported
  with eager attention and, where ONNX Runtime's BERT optimizer recognises the
  graph, fused into ``Attention`` / ``SkipLayerNormalization`` kernels;
* ``tokenizer.json``: the model's fast tokenizer (no padding, no truncation);
* ``embedder.json``: what the runtime must reproduce (pooling mode, maximum
  sequence length, prompt, dimension) and the check the export passed;
* on request, ``model-int8.onnx`` and ``embedder-int8.json``: the same graph
  with int8 dynamically quantised weights (:func:`quantize_artifact`).

All files are written through :mod:`hipporag.fsio` (temporary name, fsync,
rename), so an interrupted export never leaves a half-written artifact.

Exporting needs torch and sentence-transformers and takes seconds; using an
artifact needs only ``onnxruntime`` and ``tokenizers``. Every export is checked
against sentence-transformers on probe texts (cosine >= :data:`MIN_COSINE`);
a fused graph that fails the check is replaced by the unfused one.

Artifacts live in :func:`default_cache_dir` under a key made of the model's
file hashes, the export format version and the onnxruntime version, so a
changed model or library never reuses a stale export.

Example:
    >>> art = ensure_artifact("all-MiniLM-L6-v2")              # doctest: +SKIP
    >>> art.settings["pooling"], art.settings["dim"]           # doctest: +SKIP
    ('mean', 384)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.embedders.loading import load_sentence_transformer, resolve_embedding_model
from hipporag.embedders.onnx_runner import OnnxRunner
from hipporag.errors import ConfigError
from hipporag.fsio import atomic_write_text, fsync_dir, fsync_file, fsync_tree, temp_name
from hipporag.log import get_logger

logger = get_logger(__name__)

EXPORT_VERSION = 1
MIN_COSINE = 0.99999
SUPPORTED_POOLING = ("mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken")
MODEL_FILE, TOKENIZER_FILE, SETTINGS_FILE = "model.onnx", "tokenizer.json", "embedder.json"
INT8_FILE, INT8_SETTINGS_FILE = "model-int8.onnx", "embedder-int8.json"
_PROBES = (
    "Paris",
    "The Eiffel Tower is in Paris, the capital of France.",
    "(barack obama, born in, honolulu)",
    "Zürich – naïve café façade; 東京 and ÅNGSTRÖM  spacing\ttabs",
    " ".join(["A long passage about rivers, mountains and the history of trade."] * 60),
)


@dataclass(frozen=True)
class OnnxArtifact:
    """A ready export: its directory and its ``embedder.json`` settings."""

    path: Path
    settings: dict[str, Any]
    quantized: bool = False

    @property
    def model_file(self) -> Path:
        return self.path / (INT8_FILE if self.quantized else MODEL_FILE)

    @property
    def tokenizer_file(self) -> Path:
        return self.path / TOKENIZER_FILE


def default_cache_dir() -> Path:
    """``$HIPPORAG_ONNX_CACHE``, else ``$XDG_CACHE_HOME/hipporag/onnx`` (``~/.cache/...``)."""
    env = os.environ.get("HIPPORAG_ONNX_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hipporag" / "onnx"


def local_model_dir(name: str) -> Path | None:
    """The local directory holding model ``name``: bundled, a path, or the HF hub cache."""
    resolved = resolve_embedding_model(name)
    if os.path.isdir(resolved):
        return Path(resolved).resolve()
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        return None
    candidates = [name] if "/" in name else [f"sentence-transformers/{name}", name]
    for repo in candidates:
        try:
            return Path(snapshot_download(repo, local_files_only=True))
        except Exception:  # not cached (or an invalid repo id): try the next spelling
            continue
    return None


@lru_cache(maxsize=32)
def _dir_digest(path: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """SHA-256 over the files' relative paths and contents (memoised on size and mtime)."""
    h = hashlib.sha256()
    for rel, _, _ in stamp:
        h.update(rel.encode() + b"\0")
        with open(os.path.join(path, rel), "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def model_key(name: str, model_dir: Path | None) -> str:
    """Cache key: model file hashes (or the name), export format and onnxruntime version."""
    from hipporag.embedders.ort_quiet import import_onnxruntime

    onnxruntime = import_onnxruntime()

    if model_dir is not None:
        files = sorted(p for p in model_dir.rglob("*") if p.is_file() and ".git" not in p.parts)
        stamp = tuple(
            (str(p.relative_to(model_dir)), p.stat().st_size, p.stat().st_mtime_ns) for p in files
        )
        content = _dir_digest(str(model_dir), stamp)
    else:
        content = "name:" + name
    raw = f"{content}|export-v{EXPORT_VERSION}|ort-{onnxruntime.__version__}"
    slug = "".join(c if c.isalnum() else "-" for c in name.rsplit("/", 1)[-1])[:40]
    return f"{slug}-{hashlib.sha256(raw.encode()).hexdigest()[:20]}"


def ensure_artifact(
    name: str, cache_dir: str | os.PathLike[str] | None = None, *, quantize: bool = False
) -> OnnxArtifact:
    """Return the cached export of model ``name``, exporting it first if needed.

    ``quantize`` also makes (once) and returns the int8 dynamically quantised
    copy. Exports are written to a temporary folder, flushed and renamed
    (:mod:`hipporag.fsio`); concurrent callers may both export, the first
    rename wins and the other's copy is discarded.
    """
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    model_dir = local_model_dir(name)
    target = root / model_key(name, model_dir)
    if not (target / SETTINGS_FILE).is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(target)
        tmp.mkdir()
        try:
            export_model(name, tmp)
            fsync_tree(tmp)
            try:
                os.rename(tmp, target)
                fsync_dir(root)
            except OSError:  # another process finished first
                if not (target / SETTINGS_FILE).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    settings = json.loads((target / SETTINGS_FILE).read_text(encoding="utf-8"))
    if not quantize:
        return OnnxArtifact(target, settings)
    if not (target / INT8_SETTINGS_FILE).is_file():
        quantize_artifact(target, settings)
    qsettings = json.loads((target / INT8_SETTINGS_FILE).read_text(encoding="utf-8"))
    return OnnxArtifact(target, qsettings, quantized=True)


def quantize_artifact(target: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Write the int8 dynamically quantised copy of an export next to it; returns its settings.

    Weights of the MatMul/Gemm nodes become int8 (per channel); activations are
    quantised on the fly (``onnxruntime.quantization.quantize_dynamic``).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = temp_name(target / INT8_FILE)
    try:
        quantize_dynamic(
            str(target / MODEL_FILE),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm"],
            # the fused graph's contrib ops defeat shape inference; their outputs are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        fsync_file(tmp)
        os.replace(tmp, target / INT8_FILE)
        fsync_dir(target)
    finally:
        if tmp.exists():
            tmp.unlink()
    qsettings = {**settings, "quantized": "int8-dynamic"}
    atomic_write_text(target / INT8_SETTINGS_FILE, json.dumps(qsettings, indent=1))
    logger.info("onnx: wrote the int8 copy of %s", settings.get("model"))
    return qsettings


def _st_settings(st: Any, name: str) -> dict[str, Any]:
    """What the runtime needs to know about a SentenceTransformer, or ConfigError."""
    kinds = [type(m).__name__ for m in st]
    if (
        not kinds
        or kinds[0] != "Transformer"
        or any(k not in ("Pooling", "Normalize") for k in kinds[1:])
        or kinds.count("Pooling") != 1
    ):
        raise ConfigError(
            f"embedding model {name!r} has modules {kinds}; the onnx backend supports "
            "Transformer + Pooling (+ Normalize) only",
            hint="set embedding.backend = 'torch' for this model",
        )
    pool = st[kinds.index("Pooling")]
    mode = getattr(pool, "pooling_mode", None) or pool.get_pooling_mode_str()
    if isinstance(mode, list | tuple):
        mode = mode[0] if len(mode) == 1 else "+".join(mode)
    prompt = ""
    if getattr(st, "default_prompt_name", None):
        prompt = st.prompts.get(st.default_prompt_name, "")
    if mode not in SUPPORTED_POOLING or (prompt and not getattr(pool, "include_prompt", True)):
        raise ConfigError(
            f"pooling {mode!r} of {name!r} is not supported by the onnx backend",
            hint="set embedding.backend = 'torch' for this model",
        )
    tok = st.tokenizer
    if not getattr(tok, "is_fast", False):
        raise ConfigError(f"{name!r} has no fast tokenizer", hint="set embedding.backend = 'torch'")
    return {
        "pooling": mode,
        "max_seq_length": int(st.max_seq_length),
        "lowercase": bool(getattr(st[0], "do_lower_case", False)),
        "prompt": prompt,
        "truncation_side": getattr(tok, "truncation_side", "right"),
        "pad_id": int(tok.pad_token_id or 0),
        "inputs": [
            n
            for n in ("input_ids", "attention_mask", "token_type_ids")
            if n in tok.model_input_names
        ],
    }


def export_model(name: str, out_dir: Path) -> dict[str, Any]:
    """Export model ``name`` into ``out_dir`` and verify it; returns the settings written."""
    import torch
    from tokenizers import Tokenizer

    from hipporag.embedders.ort_quiet import import_onnxruntime

    onnxruntime = import_onnxruntime()

    st = load_sentence_transformer(name, "cpu")
    settings = _st_settings(st, name)
    hf = st[0].auto_model.eval()
    if hasattr(hf, "set_attn_implementation"):
        hf.set_attn_implementation("eager")  # SDPA's traced mask logic defeats fusion
    else:  # pragma: no cover - older transformers
        hf.config._attn_implementation = "eager"
    inputs = settings["inputs"]
    enc = st.tokenizer(
        ["a short probe", "a slightly longer probe text"], padding=True, return_tensors="pt"
    )

    class _Wrapper(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(inputs, args, strict=True))).last_hidden_state

    raw = out_dir / "raw.onnx"
    # The TorchScript exporter (torch < 2.5 has no ``dynamo`` switch and uses it anyway).
    sig = inspect.signature(torch.onnx.export).parameters
    legacy = {"dynamo": False} if "dynamo" in sig else {}
    with torch.inference_mode(), warnings.catch_warnings():
        # tracer warnings about data-dependent branches; the export is verified below
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Wrapper(hf),
            tuple(enc[n] for n in inputs),
            str(raw),
            input_names=inputs,
            output_names=["last_hidden_state"],
            opset_version=17,
            **legacy,
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*inputs, "last_hidden_state"]},
        )
    backend = Tokenizer.from_str(st.tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    backend.save(str(out_dir / TOKENIZER_FILE))
    cfg = hf.config
    dim_of = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    settings.update(
        dim=int(dim_of()),
        format=EXPORT_VERSION,
        model=name,
        onnxruntime=onnxruntime.__version__,
        torch=torch.__version__,
    )
    expected = st.encode(
        [settings["prompt"] + t for t in _PROBES],
        batch_size=len(_PROBES),
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    fused = out_dir / "fused.onnx"
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        heads = int(getattr(cfg, "num_attention_heads", 0))
        size = int(getattr(cfg, "hidden_size", 0))
        opt = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=heads,
            hidden_size=size,
            opt_level=1,
            use_gpu=False,
        )
        opt.save_model_to_file(str(fused))
    except Exception as err:  # fusion is an optimisation only
        logger.info("onnx: fusion failed for %s (%s); using the unfused graph", name, err)
    for candidate, is_fused in ((fused, True), (raw, False)):
        if not candidate.is_file():
            continue
        cos = _check(candidate, out_dir / TOKENIZER_FILE, settings, expected)
        if cos >= MIN_COSINE:
            os.replace(candidate, out_dir / MODEL_FILE)
            settings.update(fused=is_fused, probe_cos_min=round(cos, 7))
            break
        logger.warning("onnx: %s graph of %s gives cosine %.6f", candidate.name, name, cos)
    else:
        raise ConfigError(
            f"the ONNX export of {name!r} does not reproduce sentence-transformers",
            hint="set embedding.backend = 'torch' for this model",
        )
    for leftover in (raw, fused):
        leftover.unlink(missing_ok=True)
    atomic_write_text(out_dir / SETTINGS_FILE, json.dumps(settings, indent=1))
    logger.info("onnx: exported %s to %s (fused=%s)", name, out_dir, settings["fused"])
    return settings


def _check(model: Path, tokenizer: Path, settings: dict[str, Any], expected: np.ndarray) -> float:
    """Smallest cosine between the ONNX model's embeddings and ``expected`` on the probes."""
    runner = OnnxRunner(model, tokenizer, settings, threads=1)
    got = runner.embed([settings["prompt"] + t for t in _PROBES], token_budget=1 << 16)
    return float((got * expected).sum(1).min())


__all__ = [
    "MIN_COSINE",
    "OnnxArtifact",
    "default_cache_dir",
    "ensure_artifact",
    "export_model",
    "local_model_dir",
    "model_key",
    "quantize_artifact",
]

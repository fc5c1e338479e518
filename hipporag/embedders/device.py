"""Device, precision and batch-size selection for the embedders.

``embedding.device`` is ``"auto"`` (a GPU when torch sees one, else the CPU),
``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``. An explicit accelerator that
is not there is a :class:`~hipporag.errors.ConfigError`; ``"auto"`` falls back
to the CPU. On a machine without an NVIDIA driver (and not a Mac), ``"auto"``
resolves without importing torch, so CPU-only processes (an ONNX query
encoder) stay light.

Example:
    >>> resolve_device("cpu")
    'cpu'
    >>> default_batch_size("torch", "cpu"), default_batch_size("torch", "cuda:0")
    (64, 512)
    >>> resolve_dtype("float16", "cpu", explicit_device=False)
    'float32'
"""

from __future__ import annotations

import os
import sys
from typing import Any

from hipporag.errors import ConfigError
from hipporag.log import get_logger

logger = get_logger(__name__)

_NVIDIA_MARKERS = ("/proc/driver/nvidia/gpus", "/dev/nvidia0", "/dev/nvidiactl")


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    return torch


def _maybe_gpu() -> bool:
    """Cheap check whether asking torch about GPUs can answer yes."""
    if "torch" in sys.modules or sys.platform == "darwin":
        return True
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return any(os.path.exists(p) for p in _NVIDIA_MARKERS)


def cuda_count() -> int:
    """CUDA devices torch can use (0 when torch or the driver is absent)."""
    if not _maybe_gpu():
        return 0
    torch = _torch()
    if torch is None or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.device_count())


def mps_available() -> bool:
    """Whether torch's Apple-silicon backend is usable."""
    if sys.platform != "darwin":
        return False
    torch = _torch()
    mps = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str) -> str:
    """The torch device string to run on for setting ``spec``.

    Raises:
        ConfigError: ``spec`` names an accelerator this machine does not have.
    """
    d = spec.strip().lower()
    if d == "cpu":
        return "cpu"
    if d == "auto":
        if cuda_count() > 0:
            return "cuda:0"
        return "mps" if mps_available() else "cpu"
    if d == "mps":
        if not mps_available():
            raise ConfigError(
                "embedding.device = 'mps' but torch sees no Apple-silicon GPU",
                hint="use device = 'auto' or 'cpu'",
            )
        return "mps"
    if d == "cuda" or (d.startswith("cuda:") and d[5:].isdigit()):
        n = cuda_count()
        idx = int(d[5:]) if ":" in d else 0
        if n == 0:
            raise ConfigError(
                f"embedding device {spec!r} asked for, but torch sees no CUDA GPU",
                hint="use device = 'auto' (falls back to the CPU) or 'cpu'; or install a "
                "CUDA build of torch and check nvidia-smi / CUDA_VISIBLE_DEVICES",
            )
        if idx >= n:
            raise ConfigError(
                f"embedding device {spec!r} asked for, but torch sees {n} CUDA GPU(s)",
                hint=f"use cuda:0 .. cuda:{n - 1}",
            )
        return f"cuda:{idx}"
    raise ConfigError(
        f"unknown embedding device {spec!r}", hint="use auto, cpu, cuda, cuda:N or mps"
    )


def is_gpu(device: str) -> bool:
    """Whether a resolved device is an accelerator."""
    return device != "cpu"


def resolve_dtype(dtype: str, device: str, *, explicit_device: bool) -> str:
    """The precision to run in: ``float16`` needs a GPU.

    On the CPU, ``float16`` is an error when the device was asked for
    explicitly, and falls back to ``float32`` (logged) when it came from
    ``device = "auto"``.
    """
    if dtype != "float16" or is_gpu(device):
        return dtype
    if explicit_device:
        raise ConfigError(
            "embedding.dtype = 'float16' needs a GPU device",
            hint="set dtype = 'float32' for the CPU, or device = 'auto' to use half "
            "precision only where a GPU exists",
        )
    logger.info("embedding: no GPU here, running float32 instead of float16")
    return "float32"


def default_batch_size(backend: str, device: str) -> int:
    """Rows per batch when ``embedding.batch_size`` is not set.

    The CPU gains nothing from large batches (more padding, more memory);
    a GPU needs them to be kept busy.
    """
    if backend.startswith("onnx"):
        return 2048 if is_gpu(device) else 256
    return 512 if is_gpu(device) else 64


def token_budget(device: str) -> int:
    """Padded tokens per ONNX batch on ``device``."""
    return 65536 if is_gpu(device) else 2048


__all__ = [
    "cuda_count",
    "default_batch_size",
    "is_gpu",
    "mps_available",
    "resolve_device",
    "resolve_dtype",
    "token_budget",
]

"""Samplers for benchmarks: per-GPU utilisation (nvidia-smi) and process-tree RSS.

Example:
    >>> summarize_gpu_log("0, 20, 10\\n0, 40, 30\\n")["0"]["util_mean"]
    30.0
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any


class GpuSampler:
    """``nvidia-smi -lms 500`` in the background; per-GPU utilisation and memory."""

    QUERY = "index,utilization.gpu,memory.used"

    def __init__(self, log: Path, every_ms: int = 500) -> None:
        self.log, self.proc = log, None
        self.exe = shutil.which("nvidia-smi")
        if self.exe:
            cmd = [self.exe, f"--query-gpu={self.QUERY}", "--format=csv,noheader,nounits"]
            self.fh = open(log, "w")  # noqa: SIM115 - closed in stop()
            self.proc = subprocess.Popen([*cmd, "-lms", str(every_ms)], stdout=self.fh)

    def stop(self) -> dict[str, Any]:
        if self.proc is None:
            return {"note": "nvidia-smi not found: GPU utilisation not sampled"}
        self.proc.terminate()
        self.proc.wait(10)
        self.fh.close()
        return summarize_gpu_log(self.log.read_text())


def summarize_gpu_log(text: str) -> dict[str, Any]:
    """Mean/max utilisation (%) and max memory (MiB) per GPU index from nvidia-smi CSV.

    Example:
        >>> summarize_gpu_log("0, 50, 1000\\n1, 0, 10\\n0, 100, 1200\\n1, 0, 10\\n")
        {'0': {'samples': 2, 'util_mean': 75.0, 'util_max': 100.0, 'mem_max_mib': 1200.0}, '1': {'samples': 2, 'util_mean': 0.0, 'util_max': 0.0, 'mem_max_mib': 10.0}}
    """
    per: dict[str, list[tuple[float, float]]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        try:
            per.setdefault(parts[0], []).append((float(parts[1]), float(parts[2])))
        except ValueError:  # "[N/A]" and the like
            continue
    return {
        gpu: {
            "samples": len(v),
            "util_mean": round(sum(u for u, _ in v) / len(v), 1),
            "util_max": max(u for u, _ in v),
            "mem_max_mib": max(m for _, m in v),
        }
        for gpu, v in sorted(per.items())
    }


class TreeRss(threading.Thread):
    """Peak RSS summed over a process and all its descendants (sampled every 0.5 s)."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.procs = pid, every, 0, 0
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak, self.procs = max(self.peak, total), max(self.procs, len(procs))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


__all__ = ["GpuSampler", "TreeRss", "summarize_gpu_log"]

"""The demo index, built once per test session and shared by fixtures and doctests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_CORPUS = ROOT / "pipelines" / "demo_data" / "corpus.json"
DEMO_QUESTIONS = ROOT / "pipelines" / "demo_data" / "questions.json"

_built: dict[str, Path] = {}


def build_demo_index(make_dir: Callable[[], Path]) -> Path:
    """Index the demo corpus with real spaCy OpenIE and real MiniLM, once per process.

    Args:
        make_dir: returns a fresh empty directory to hold the index (called once).

    Returns:
        The index directory.
    """
    if "index" not in _built:
        from hipporag.config import IndexConfig
        from indexers.builder import IndexBuilder
        from indexers.readers import read_corpus

        passages, stats = read_corpus(DEMO_CORPUS)
        out = make_dir() / "index"
        IndexBuilder(IndexConfig()).build(passages, out, read_stats=stats.to_dict())
        _built["index"] = out
    return _built["index"]


class LazyDemoIndex(os.PathLike):
    """A path-like that builds the demo index on first use (``os.fspath``)."""

    def __init__(self, make_dir: Callable[[], Path]) -> None:
        self._make_dir = make_dir

    def __fspath__(self) -> str:
        return str(build_demo_index(self._make_dir))

    def __repr__(self) -> str:
        return "DEMO_INDEX"

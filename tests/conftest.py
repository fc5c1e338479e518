"""Shared fixtures: the demo corpus, a demo index built once with the real models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HIPPORAG_PROGRESS", "0")

from tests.demo_index import DEMO_CORPUS, DEMO_QUESTIONS, ROOT, build_demo_index

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_corpus_path() -> Path:
    return DEMO_CORPUS


@pytest.fixture(scope="session")
def demo_questions_path() -> Path:
    return DEMO_QUESTIONS


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests needing it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_index_path(tmp_path_factory) -> Path:
    """The demo corpus indexed with real spaCy OpenIE and real MiniLM (built once)."""
    return build_demo_index(lambda: tmp_path_factory.mktemp("demo"))

"""Doctest namespace: ``DEMO_INDEX`` (built lazily on first use), ``DEMO_CORPUS``, ``DEMO_QUESTIONS``.

``DEMO_INDEX`` in docstring examples is the demo index that ``make demo`` builds
(``.demo-index``); under pytest it is built once per session, only when an example uses it.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HIPPORAG_PROGRESS", "0")

pytest_plugins = ["tests.plugins.llm_server"]


@pytest.fixture(autouse=True)
def _doctest_demo_namespace(request):
    """Fill the doctest namespace; touches doctest items only and builds nothing eagerly."""
    if isinstance(request.node, pytest.DoctestItem):
        from tests.demo_index import DEMO_CORPUS, DEMO_QUESTIONS, LazyDemoIndex

        factory = request.getfixturevalue("tmp_path_factory")
        ns = request.getfixturevalue("doctest_namespace")
        ns["DEMO_INDEX"] = LazyDemoIndex(lambda: factory.mktemp("demo"))
        ns["DEMO_CORPUS"] = DEMO_CORPUS
        ns["DEMO_QUESTIONS"] = DEMO_QUESTIONS
    yield

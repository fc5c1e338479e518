"""Evaluation harness: metrics against hand-computed values, question files, CLI."""

from __future__ import annotations

import json

import pytest

from hipporag.config import RetrievalConfig
from hipporag.errors import InputError, RetrievalError
from pipelines.cli import main
from pipelines.evaluate import (
    RUNNERS,
    Outcome,
    Question,
    aggregate,
    evaluate,
    load_questions,
    recall_at,
    register_runner,
)
from pipelines.fusion_docs import __doc__ as _unused  # noqa: F401  (placeholder removed below)

"""Unit tests without models: config, fusion resets, recognition parsing, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from hipporag.errors import ConfigError, RetrievalError
from retrievers.common import check_k, check_query, top_k
from retrievers.config import RetrievalConfig
from retrievers.fusion import DenseEvidence, Fusion, min_max, rrf
from retrievers.recognition import RecognitionFilter


def test_retrieval_config_round_trips_and_validates() -> None:
    cfg = RetrievalConfig.from_dict({"mode": "hipporag2", "temperature": 1, "llm": {"model": "m"}})
    assert cfg.temperature == 1.0 and cfg.llm.model == "m"
    assert RetrievalConfig.from_toml(cfg.to_toml()) == cfg
    assert RetrievalConfig.from_dict(cfg.to_dict()) == cfg
    for bad, match in [
        ({"mode": "bm25"}, "retrieval.mode"),
        ({"fusion": "max"}, "retrieval.fusion"),
        ({"damping": 1.0}, "damping"),
        ({"top_facts": 0}, "top_facts"),
        ({"entity_mass": 1.5}, "entity_mass"),
        ({"temperature": 0}, "temperature"),
        ({"ppr_method": "exact"}, "ppr_method"),
        ({"path_hops": 0}, "path_hops"),
        ({"explain": "yes"}, "bool"),
        ({"dampng": 0.5}, "did you mean 'damping'"),
        ({"query_backend": "gpu"}, "query_backend"),
    ]:
        with pytest.raises(ConfigError, match=match):
            RetrievalConfig.from_dict(bad)


def test_dense_prior_reset_is_a_mixture_of_softmax_and_entity_seeds() -> None:
    f = Fusion("dense_prior", entity_mass=0.2, temperature=0.1)
    dense = DenseEvidence(np.array([4, 1]), np.array([0.9, 0.8]))
    reset = f.reset({0: 3.0, 2: 1.0}, dense, n_entities=3)
    p = np.exp(np.array([0.0, -1.0]))
    p /= p.sum()
    assert reset[0] == pytest.approx(0.15) and reset[2] == pytest.approx(0.05)
    assert reset[3 + 4] == pytest.approx(0.8 * p[0]) and reset[3 + 1] == pytest.approx(0.8 * p[1])
    assert sum(reset.values()) == pytest.approx(1.0)
    only_passages = f.reset({}, dense, n_entities=3)
    assert sum(only_passages.values()) == pytest.approx(1.0)


def test_hipporag2_reset_weights_every_passage() -> None:
    f = Fusion("hipporag2", passage_weight=0.05)
    scores = np.array([0.2, 0.6, 1.0])
    reset = f.reset({1: 0.5}, DenseEvidence(np.zeros(0, int), np.zeros(0), scores), n_entities=2)
    assert reset.tolist() == pytest.approx([0.0, 0.5, 0.0, 0.025, 0.05])
    assert min_max(np.array([2.0, 2.0])).tolist() == [1.0, 1.0]
    with pytest.raises(RetrievalError, match="every passage"):
        f.reset({1: 0.5}, DenseEvidence(np.zeros(0, int), np.zeros(0)), n_entities=2)


def test_rrf_by_hand() -> None:
    a, b = np.array([0.9, 0.1, 0.5]), np.array([0.1, 0.9, 0.5])
    fused = rrf(a, b, k=1)
    assert fused.tolist() == pytest.approx([1 / 2 + 1 / 4, 1 / 4 + 1 / 2, 1 / 3 + 1 / 3])
    with pytest.raises(RetrievalError, match="unknown fusion"):
        Fusion("max")


def test_top_k_orders_and_breaks_ties_by_index() -> None:
    s = np.array([0.1, 0.5, 0.5, 0.9, 0.0])
    assert top_k(s, 3).tolist() == [3, 1, 2]
    assert top_k(s, 10).tolist() == [3, 1, 2, 0, 4]
    assert top_k(s, 2, valid=np.array([1, 0, 1, 0, 1], bool)).tolist() == [2, 0]


def test_input_checks() -> None:
    assert check_query("  q ") == "q"
    assert check_k(np.int64(3)) == 3
    for bad in (0, -1, True, "5", 1.5):
        with pytest.raises(RetrievalError):
            check_k(bad)


class _LLM:
    def __init__(self, text: str) -> None:
        self.text = text
        self.messages = None

    def chat(self, messages, *, json_schema=None, **params) -> str:
        self.messages = messages
        return self.text


@pytest.mark.parametrize(
    ("text", "kept", "failed"),
    [
        ('{"relevant": [3, 1, 3]}', [2, 0], False),
        ('Sure: {"relevant": [2]}', [1], False),
        ('{"relevant": [1, 2, 3]}', [0, 1], False),  # bounded by max_facts
        ('{"relevant": []}', [], False),
        ('{"relevant": [0]}', [], True),  # numbers start at 1
        ('{"relevant": ["1"]}', [], True),
        ('{"relevant": [1], }', [], True),  # strict: no repairs
        ("{'relevant': [1]}", [], True),
        ("none", [], True),
    ],
)
def test_recognition_parsing_is_strict_and_bounded(text, kept, failed) -> None:
    llm = _LLM(text)
    facts = [("a", "r", "b"), ("c", "r", "d"), ("e", "r", "f")]
    out = RecognitionFilter(llm, max_facts=2).filter("q?", facts)
    assert out.kept == kept and out.failed is failed
    assert (out.error is not None) is failed
    assert "at most 2" in llm.messages[0]["content"]
    assert '3. ["e", "r", "f"]' in llm.messages[1]["content"]

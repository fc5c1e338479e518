"""The retriever registry: names, parameters, serialisation, adding a retriever, CLI listing."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pytest

from hipporag.errors import ConfigError, RetrievalError
from retrievers import registry
from retrievers.config import RetrievalConfig
from retrievers.dense import DenseRetriever
from retrievers.params import BaseParams
from retrievers.walk import WalkRetriever


def test_builtin_modes_and_their_parameters() -> None:
    assert registry.names() == ("dense", "hipporag1", "hipporag2", "hybrid", "lexical", "note")
    assert registry.names(rankers_only=True) == (
        "dense",
        "hipporag1",
        "hipporag2",
        "hybrid",
        "lexical",
    )
    hybrid = registry.spec("hybrid").parameters()
    assert {"fusion", "entity_mass", "top_facts", "damping"} <= set(hybrid)
    assert "link_k" not in hybrid and "link_k" in registry.spec("hipporag1").parameters()
    assert set(registry.spec("dense").parameters()) == {"explain"}
    assert "max_step" in registry.spec("note").parameters()
    # every key of every ranker's parameters is a [retrieval] key
    keys = set(RetrievalConfig.field_names())
    for name in registry.names(rankers_only=True):
        assert set(registry.spec(name).params.field_names()) <= keys


def test_unknown_modes_get_suggestions() -> None:
    with pytest.raises(RetrievalError, match="unknown retrieval mode") as err:
        registry.spec("hipporag3")
    assert "did you mean" in str(err.value)
    with pytest.raises(ConfigError, match="did you mean 'hybrid'"):
        RetrievalConfig(mode="hybird")
    with pytest.raises(RetrievalError, match="not a single-call ranker"):
        registry.check_mode("note", "hybrid")


def test_each_retriever_validates_its_own_parameters() -> None:
    for mode, bad in [("hybrid", {"entity_mass": 2.0}), ("hipporag1", {"link_k": 0})]:
        params = registry.spec(mode).params
        with pytest.raises(ConfigError, match=next(iter(bad))):
            params.from_dict(bad)
        with pytest.raises(ConfigError, match=next(iter(bad))):
            RetrievalConfig.from_dict(bad)  # the flat config checks through them


def test_to_dict_from_dict_round_trip(demo_index_path) -> None:
    from hipporag.index import Index
    from pipelines.facade import shared_embedder

    index = Index.open(demo_index_path)
    emb = shared_embedder(index.config.embedding)
    for name in registry.names(rankers_only=True):
        spec = registry.spec(name)
        params = spec.params.from_config(RetrievalConfig(damping=0.6, explain=False))
        if issubclass(spec.cls, WalkRetriever):
            r = spec.cls(index, params, embedder=emb)
        else:
            r = spec.cls(index, emb, params=params)
        data = r.to_dict()
        assert data["type"] == name and data["init_parameters"] == params.to_dict()
        again = spec.cls.from_dict(data, index, embedder=emb)
        assert again.params == params
        q = "Who founded Brightmoor Instruments?"
        assert again.retrieve(q, k=3).passage_ids == r.retrieve(q, k=3).passage_ids


def test_a_new_retriever_is_one_class_and_one_registration(demo_index_path) -> None:
    from hipporag.index import Index
    from pipelines.facade import shared_embedder

    @dataclass(frozen=True)
    class ReverseParams(BaseParams):
        offset: int = 0

    @registry.register("reverse-test", params=ReverseParams, summary="dense, worst first")
    class Reverse(DenseRetriever):
        def candidates(self, qvec, n, *, allow=None, exclude=None):  # type: ignore[no-untyped-def]
            idxs, sims = super().candidates(qvec, 10**6, allow=allow, exclude=exclude)
            return idxs[::-1][:n], sims[::-1][:n]

    try:
        assert "reverse-test" in registry.names(rankers_only=True)
        assert "reverse-test: dense, worst first" in registry.describe()
        index = Index.open(demo_index_path)
        r = Reverse(index, shared_embedder(index.config.embedding), params=ReverseParams())
        res = r.retrieve("Who founded Brightmoor Instruments?", k=2, allow=np.arange(10))
        assert len(res) == 2 and res.mode == "reverse-test"
        assert res.hits[0].score <= res.hits[1].score
    finally:
        registry._REGISTRY.pop("reverse-test")


def test_cli_help_lists_the_registered_modes() -> None:
    from pipelines.commands import eval as eval_cmd
    from pipelines.commands import retrieve as retrieve_cmd

    for cmd, expected in ((retrieve_cmd, "hipporag1"), (eval_cmd, "note")):
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        cmd.register(sub)
        text = sub.choices[cmd.__name__.rsplit(".", 1)[-1]].format_help()
        assert expected in text and "hybrid" in text and "top_facts" in " ".join(text.split())

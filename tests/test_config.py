import pytest

from hipporag.config import EmbeddingConfig, GraphConfig, IndexConfig, LLMConfig, OpenIEConfig
from hipporag.errors import ConfigError


def test_round_trip_dict_and_toml(tmp_path):
    cfg = IndexConfig.from_dict(
        {"graph": {"synonymy_threshold": 0.85, "synonymy_k": 5}, "embedding": {"batch_size": 8}}
    )
    assert IndexConfig.from_dict(cfg.to_dict()) == cfg
    assert IndexConfig.from_toml(cfg.to_toml()) == cfg
    cfg.save(tmp_path / "c.toml")
    assert IndexConfig.load(tmp_path / "c.toml") == cfg


def test_defaults_are_valid():
    cfg = IndexConfig()
    assert cfg.openie.kind == "spacy"
    assert cfg.graph.synonymy_threshold == 0.8


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"graph": {"synonym_threshold": 0.8}}, "did you mean 'synonymy_threshold'"),
        ({"graph": {"synonymy_threshold": 1.5}}, "synonymy_threshold must be in (0, 1]"),
        ({"graph": {"synonymy_k": 0}}, "synonymy_k must be >= 1"),
        ({"openie": {"kind": "gpt"}}, "openie.kind must be one of"),
        ({"openie": {"kind": "hipporag"}}, "needs openie.path"),
        ({"embedding": {"batch_size": "big"}}, "must be of type int"),
        ({"embedding": {"batch_size": True}}, "must be of type int"),
        ({"graph": 3}, "must be a table"),
        ({"openie": {"llm": {"base_url": "localhost:8080"}}}, "must start with http"),
    ],
)
def test_bad_values_fail_early_with_a_fix(data, fragment):
    with pytest.raises(ConfigError) as err:
        IndexConfig.from_dict(data)
    assert fragment in str(err.value)


def test_direct_construction_validates():
    with pytest.raises(ConfigError):
        GraphConfig(synonymy_threshold=0.0)
    with pytest.raises(ConfigError):
        EmbeddingConfig(model="  ")
    with pytest.raises(ConfigError):
        LLMConfig(concurrency=0)
    assert OpenIEConfig(kind="hipporag", path="x.json").path == "x.json"


def test_int_accepted_for_float_and_invalid_toml():
    assert (
        IndexConfig.from_dict({"graph": {"synonymy_threshold": 1}}).graph.synonymy_threshold == 1.0
    )
    with pytest.raises(ConfigError, match="invalid TOML"):
        IndexConfig.from_toml("[graph\nx=")
    with pytest.raises(ConfigError, match="not found"):
        IndexConfig.load("/nonexistent/config.toml")

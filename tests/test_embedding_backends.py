"""The ONNX embedding backend reproduces sentence-transformers, caches its export, pickles light."""

from __future__ import annotations

import builtins
import pickle

import numpy as np
import pytest

from hipporag.config import EmbeddingConfig
from hipporag.errors import ConfigError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

LONG = " ".join(
    ["The river Thames flows through London, past Westminster and the Tower, to the sea."] * 40
)
TEXTS = [
    "Paris",
    "paris",
    "Barack Obama",
    "(barack obama, born in, honolulu)",
    "(the beatles, formed in, liverpool)",
    "1969",
    "U.S.",
    "",
    "   leading and trailing spaces   ",
    "tabs\tand\nnewlines",
    "Zürich, Ångström, naïve café, São Paulo",
    "東京は日本の首都です。",
    "emoji 🚀 and symbols ©®™ ±",
    "UPPER CASE SHOUTING TEXT",
    "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z",
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris.",
    "Marie Curie was the first woman to win a Nobel Prize and the only person to win "
    "Nobel Prizes in two scientific fields.",
    "Title of a passage\nIts text follows on the next line, as IndexBuilder embeds it.",
    LONG,
    LONG[::-1],
    "word " * 300,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    *[f"entity number {i}" for i in range(12)],
    *[f"(subject {i}, relation {i % 3}, object {i * 7})" for i in range(12)],
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("onnx-cache"))


@pytest.fixture(scope="module")
def st_embedder():
    from hipporag.embedders.torch_backend import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.warm_up()
    return emb


@pytest.fixture(scope="module")
def onnx_embedder(onnx_cache):
    from hipporag.embedders.onnx_backend import OnnxEmbedder

    emb = OnnxEmbedder(EmbeddingConfig(), cache_dir=onnx_cache)
    emb.warm_up()
    return emb


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.mark.slow
def test_texts_include_some_longer_than_max_seq_length(onnx_embedder) -> None:
    ids = onnx_embedder._runner.tokenize([LONG, "word " * 300])
    assert all(len(x) == 256 for x in ids)  # truncated to all-MiniLM-L6-v2's 256


@pytest.mark.slow
def test_onnx_matches_sentence_transformers(st_embedder, onnx_embedder) -> None:
    a, b = st_embedder.encode(TEXTS), onnx_embedder.encode(TEXTS)
    assert b.shape == a.shape == (len(TEXTS), 384) and b.dtype == np.float32
    assert _cos(a, b).min() >= 0.99999
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    # batch composition does not change a text's vector
    one_by_one = np.vstack([onnx_embedder.encode([t]) for t in TEXTS[:6]])
    assert _cos(one_by_one, b[:6]).min() >= 0.99999
    q = onnx_embedder.encode_query(TEXTS[16])
    assert (
        q.shape == (384,)
        and float(q @ st_embedder.encode([TEXTS[16]], is_query=True)[0]) >= 0.99999
    )


@pytest.mark.slow
def test_prefixes_and_max_seq_length_match(onnx_cache) -> None:
    from hipporag.embedders.onnx_backend import OnnxEmbedder
    from hipporag.embedders.torch_backend import SentenceTransformerEmbedder

    cfg = EmbeddingConfig(max_seq_length=16, query_prefix="query: ", passage_prefix="passage: ")
    st, ox = SentenceTransformerEmbedder(cfg), OnnxEmbedder(cfg, cache_dir=onnx_cache)
    for is_query in (False, True):
        a = st.encode(TEXTS[15:22], is_query=is_query)
        b = ox.encode(TEXTS[15:22], is_query=is_query)
        assert _cos(a, b).min() >= 0.99999


@pytest.mark.slow
def test_empty_input(onnx_embedder) -> None:
    assert onnx_embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_pickles_as_settings_only(onnx_embedder) -> None:
    blob = pickle.dumps(onnx_embedder)
    assert len(blob) < 2000  # no session, no weights
    clone = pickle.loads(blob)
    assert clone._runner is None and clone.config == onnx_embedder.config
    assert clone.cache_dir == onnx_embedder.cache_dir
    assert _cos(clone.encode(TEXTS[:5]), onnx_embedder.encode(TEXTS[:5])).min() >= 0.999999
    assert clone.to_dict()["kind"] == "onnx"


@pytest.mark.slow
def test_second_construction_reuses_the_export(onnx_embedder, onnx_cache, monkeypatch) -> None:
    import hipporag.embedders.onnx_export as ox
    from hipporag.embedders.onnx_backend import OnnxEmbedder

    model_file = onnx_embedder.artifact_path / ox.MODEL_FILE
    before = model_file.stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(ox, "export_model", no_export)
    again = OnnxEmbedder(EmbeddingConfig(), cache_dir=onnx_cache)
    again.warm_up()
    assert again.artifact_path == onnx_embedder.artifact_path
    assert model_file.stat().st_mtime_ns == before
    assert again.dim == 384


def test_cache_key_changes_with_the_model_files(tmp_path) -> None:
    from hipporag.embedders.onnx_export import model_key

    (tmp_path / "config.json").write_text("{}")
    k1 = model_key("m", tmp_path)
    (tmp_path / "config.json").write_text('{"changed": 1}')
    assert model_key("m", tmp_path) != k1


def _hide_onnxruntime(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_onnxruntime_is_a_clear_error(monkeypatch) -> None:
    from hipporag.embedders.onnx_backend import OnnxEmbedder

    _hide_onnxruntime(monkeypatch)
    with pytest.raises(ConfigError) as info:
        OnnxEmbedder(EmbeddingConfig())
    assert "onnxruntime" in str(info.value)
    assert "backend = 'torch'" in (info.value.hint or "")


def test_factory_picks_the_backend(monkeypatch) -> None:
    from hipporag.embedders import make_embedder
    from hipporag.embedders.onnx_backend import OnnxEmbedder
    from hipporag.embedders.torch_backend import SentenceTransformerEmbedder

    assert isinstance(make_embedder(EmbeddingConfig(backend="torch")), SentenceTransformerEmbedder)
    onnx = make_embedder(EmbeddingConfig(backend="onnx"))
    assert isinstance(onnx, OnnxEmbedder) and not onnx.fallback
    auto = make_embedder(EmbeddingConfig(backend="auto"))
    assert isinstance(auto, OnnxEmbedder) and auto.fallback
    _hide_onnxruntime(monkeypatch)
    assert isinstance(make_embedder(EmbeddingConfig(backend="auto")), SentenceTransformerEmbedder)
    with pytest.raises(ConfigError):
        make_embedder(EmbeddingConfig(backend="onnx"))


def test_backend_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"embedding\.backend"):
        EmbeddingConfig(backend="tensorflow")
    cfg = EmbeddingConfig.from_dict({"backend": "onnx"})
    assert EmbeddingConfig.from_toml(cfg.to_toml()) == cfg


def test_token_batches_respect_the_budget() -> None:
    from hipporag.embedders.onnx_runner import token_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=2000)
    batches = token_batches(lengths, budget=4096, max_rows=500)
    assert sorted(np.concatenate(batches).tolist()) == list(range(2000))
    for b in batches:
        assert len(b) <= 500
        assert len(b) == 1 or len(b) * lengths[b].max() <= 4096

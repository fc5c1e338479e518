"""The rerank stage: a local cross-encoder made here, a listwise LLM (fake and real servers).

The cross-encoder is a tiny BERT built from a random-init config (fixed seed)
and a WordPiece vocabulary written here, saved to a temporary folder and
loaded by path with sentence-transformers' ``CrossEncoder``: no network.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hipporag.config import LLMConfig
from hipporag.errors import ConfigError
from pipelines.facade import HippoRAG
from retrievers.config import RetrievalConfig
from retrievers.rerank import RerankConfig

QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory, demo_corpus_path) -> Path:
    """A 1-layer BERT cross-encoder (one logit) with a vocabulary of the demo corpus."""
    import re

    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    out = tmp_path_factory.mktemp("cross_encoder")
    words: dict[str, None] = {}
    for rec in json.loads(demo_corpus_path.read_text(encoding="utf-8")):
        for w in re.findall(r"\w+|[^\w\s]", f"{rec['title']} {rec['text']}".lower()):
            words.setdefault(w)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _model_order(path: Path, query: str, texts: list[str]) -> list[int]:
    """Positions of ``texts`` by the model's own logits (computed with transformers directly)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        enc = tok([query] * len(texts), texts, padding=True, truncation=True, return_tensors="pt")
        logits = model(**enc).logits.reshape(-1).tolist()
    return sorted(range(len(texts)), key=lambda i: -logits[i])


def _text(hit) -> str:
    return f"{hit.title}\n{hit.text}" if hit.title else hit.text


@pytest.mark.slow
def test_cross_encoder_reorders_through_the_facade(demo_index_path, tiny_cross_encoder):
    plain = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=8)
    cfg = RetrievalConfig(
        rerank=RerankConfig(kind="cross-encoder", model=str(tiny_cross_encoder), top_n=8)
    )
    result = HippoRAG.open(demo_index_path, cfg).retrieve(QUESTION, k=5)
    expected = _model_order(tiny_cross_encoder, QUESTION, [_text(h) for h in plain.hits])
    assert expected[:5] != list(range(5)), "the seeded model must disagree with retrieval"
    assert [h.passage_id for h in result.hits] == [plain.hits[i].passage_id for i in expected[:5]]
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)  # the cross-encoder's scores
    assert all("reranked" in h.explanation.flags for h in result.hits)
    assert result.timings_ms["rerank"] > 0
    assert list(result.timings_ms)[-1] == "total"
    assert result.timings_ms["total"] >= result.timings_ms["rerank"]


@pytest.mark.slow
def test_cross_encoder_through_the_cli(demo_index_path, tiny_cross_encoder, capsys):
    from pipelines.cli import main

    spec = f"cross-encoder:{tiny_cross_encoder}"
    argv = ["retrieve", str(demo_index_path), QUESTION, "-k", "3", "--rerank", spec, "--json"]
    assert main([*argv, "--rerank-top-n", "6"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["hits"]) == 3 and "rerank" in data["timings_ms"]
    assert all("reranked" in h["explanation"]["flags"] for h in data["hits"])
    # A bad spec is a one-line error with the fix.
    assert main(["retrieve", str(demo_index_path), QUESTION, "--rerank", "cross-encoder"]) != 0
    err = capsys.readouterr().err
    assert "needs rerank.model" in err and "how to fix" in err


def test_rerank_config_is_strict():
    assert RetrievalConfig().rerank.enabled is False
    with pytest.raises(ConfigError, match="did you mean 'llm'"):
        RerankConfig(kind="lm")
    with pytest.raises(ConfigError, match="top_n"):
        RetrievalConfig.from_dict({"rerank": {"kind": "llm", "top_n": 0}})
    cfg = RetrievalConfig.from_toml('[rerank]\nkind = "llm"\ntop_n = 7\n')
    assert cfg.rerank == RerankConfig(kind="llm", top_n=7)
    assert RetrievalConfig.from_toml(cfg.to_toml()) == cfg


def _llm_rag(index, server, cache_dir, top_n=6) -> HippoRAG:
    cfg = RetrievalConfig(
        llm=LLMConfig(base_url=server.url, model="m", cache_dir=str(cache_dir), max_retries=0),
        rerank=RerankConfig(kind="llm", top_n=top_n),
    )
    return HippoRAG.open(index, cfg)


def test_llm_rerank_fake_server_reorders_and_caches(demo_index_path, fake_llm_server, tmp_path):
    plain = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=6)
    fake_llm_server.script = [("ok", 'Sure: {"ranking": [4, 2]}', "stop")]
    rag = _llm_rag(demo_index_path, fake_llm_server, tmp_path)
    result = rag.retrieve(QUESTION, k=4)
    ids = [h.passage_id for h in plain.hits]
    assert [h.passage_id for h in result.hits] == [ids[3], ids[1], ids[0], ids[2]]
    assert [h.score for h in result.hits] == [plain.hits[i].score for i in (3, 1, 0, 2)]
    assert "rerank_failed" not in result.flags and result.timings_ms["rerank"] > 0
    prompt = fake_llm_server.requests[-1]["messages"][-1]["content"]
    assert "[6] " in prompt and "[7] " not in prompt and QUESTION in prompt
    sent = len(fake_llm_server.requests)
    again = rag.retrieve(QUESTION, k=4)  # same prompt: from the cache, no request
    assert len(fake_llm_server.requests) == sent
    assert [h.passage_id for h in again.hits] == [h.passage_id for h in result.hits]


@pytest.mark.parametrize(
    "reply",
    ['{"ranking": [1, 9]}', '{"ranking": [2, 2]}', "passage 2 is best", '{"order": [1]}'],
)
def test_llm_rerank_bad_reply_keeps_order(demo_index_path, fake_llm_server, tmp_path, reply):
    plain = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=6)
    fake_llm_server.script = [("ok", reply, "stop")]
    rag = _llm_rag(demo_index_path, fake_llm_server, tmp_path)
    result = rag.retrieve(QUESTION, k=5)
    assert [h.passage_id for h in result.hits] == plain.passage_ids[:5]
    assert "rerank_failed" in result.flags
    assert rag.reranker.failures == 1  # counted (and logged as a warning)
    assert not any("reranked" in h.explanation.flags for h in result.hits)
    sent = len(fake_llm_server.requests)
    fake_llm_server.script = [("ok", '{"ranking": [2]}', "stop")]
    again = rag.retrieve(QUESTION, k=5)  # the bad reply was not cached: asked again
    assert len(fake_llm_server.requests) == sent + 1
    assert again.passage_ids[:2] == [plain.passage_ids[1], plain.passage_ids[0]]


def test_llm_rerank_server_error_keeps_order(demo_index_path, fake_llm_server, tmp_path):
    plain = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=3)
    fake_llm_server.script = [("status", 500)]
    result = _llm_rag(demo_index_path, fake_llm_server, tmp_path).retrieve(QUESTION, k=3)
    assert result.passage_ids == plain.passage_ids and "rerank_failed" in result.flags


@pytest.mark.llm
@pytest.mark.slow
def test_llm_rerank_real_server(demo_index_path, llm_server, tmp_path):
    cfg = RetrievalConfig(
        llm=LLMConfig(
            base_url=llm_server.base_url,
            model=llm_server.model,
            cache_dir=str(tmp_path),
            timeout_s=300,
        ),
        rerank=RerankConfig(kind="llm", top_n=4, passage_chars=200),
    )
    plain = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=4)
    result = HippoRAG.open(demo_index_path, cfg).retrieve(QUESTION, k=4)
    # The tiny model's order need not be good: it is either used or safely refused.
    assert sorted(result.passage_ids) == sorted(plain.passage_ids)
    assert result.timings_ms["rerank"] > 0
    if "rerank_failed" in result.flags:
        assert result.passage_ids == plain.passage_ids
    else:
        assert all("reranked" in h.explanation.flags for h in result.hits)

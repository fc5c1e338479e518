"""The LangChain and LlamaIndex adapters return exactly HippoRAG.retrieve's passages.

Each adapter runs inside a real pipeline of its framework: LangChain's
``invoke``/``batch``/LCEL chain with a fake LLM, LlamaIndex's ``retrieve`` and
a ``RetrieverQueryEngine`` with its offline ``MockLLM``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

K = 4


@pytest.fixture(scope="module")
def rag(demo_index_path: Path):
    from pipelines.facade import HippoRAG

    return HippoRAG.open(demo_index_path)


@pytest.fixture(scope="module")
def questions(demo_questions_path: Path) -> list[str]:
    data = json.loads(demo_questions_path.read_text(encoding="utf-8"))
    return [q["question"] for q in data[:4]]


def expected(rag, question: str, mode: str | None = None):
    result = rag.retrieve(question, k=K) if mode is None else rag.retrieve(question, k=K, mode=mode)
    assert result.hits, "the demo index should retrieve something"
    return result


# -- LangChain ---------------------------------------------------------------


def test_langchain_invoke_matches_hipporag(rag, questions: list[str]) -> None:
    pytest.importorskip("langchain_core")
    from pipelines.adapters.langchain import HippoRAGRetriever

    retriever = HippoRAGRetriever(rag=rag, k=K)
    for q in questions:
        result = expected(rag, q)
        docs = retriever.invoke(q)
        assert [d.metadata["passage_id"] for d in docs] == result.passage_ids
        assert [d.id for d in docs] == result.passage_ids
        for doc, hit in zip(docs, result.hits, strict=True):
            assert doc.page_content == hit.text
            assert doc.metadata["title"] == hit.title
            assert doc.metadata["rank"] == hit.rank
            assert doc.metadata["score"] == pytest.approx(hit.score)
            assert doc.metadata["mode"] == result.mode
            want = hit.explanation.to_dict() if hit.explanation else None
            assert doc.metadata["explanation"] == want
    # batch and async go through the same path
    batched = retriever.batch(questions)
    assert [[d.id for d in docs] for docs in batched] == [
        expected(rag, q).passage_ids for q in questions
    ]
    docs = asyncio.run(retriever.ainvoke(questions[0]))
    assert [d.id for d in docs] == expected(rag, questions[0]).passage_ids


def test_langchain_chain_with_prompt_and_llm(rag, questions: list[str]) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from pipelines.adapters.langchain import HippoRAGRetriever

    retriever = HippoRAGRetriever(rag=rag, k=K)
    seen: list[list[str]] = []

    def format_docs(docs) -> str:
        seen.append([d.metadata["passage_id"] for d in docs])
        return "\n\n".join(f"{d.metadata['title']}: {d.page_content}" for d in docs)

    prompt = PromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}\nAnswer:")
    chain = (
        {"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
        | prompt
        | FakeListLLM(responses=["Imre Valko"])
    )
    assert chain.invoke(questions[0]) == "Imre Valko"
    assert seen == [expected(rag, questions[0]).passage_ids]
    rendered = (retriever | RunnableLambda(format_docs)).invoke(questions[1])
    assert all(h.title in rendered for h in expected(rag, questions[1]).hits)


def test_langchain_mode_is_passed_through(rag, questions: list[str]) -> None:
    pytest.importorskip("langchain_core")
    from pipelines.adapters.langchain import HippoRAGRetriever

    mode = "dense"
    docs = HippoRAGRetriever(rag=rag, k=K, mode=mode).invoke(questions[0])
    result = expected(rag, questions[0], mode=mode)
    assert [d.id for d in docs] == result.passage_ids
    assert {d.metadata["mode"] for d in docs} == {result.mode}


def test_langchain_from_index(demo_index_path: Path, rag, questions: list[str]) -> None:
    pytest.importorskip("langchain_core")
    from pipelines.adapters.langchain import HippoRAGRetriever

    docs = HippoRAGRetriever.from_index(str(demo_index_path), k=2).invoke(questions[0])
    assert [d.id for d in docs] == rag.retrieve(questions[0], k=2).passage_ids


# -- LlamaIndex --------------------------------------------------------------


def test_llamaindex_retrieve_matches_hipporag(rag, questions: list[str]) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import MetadataMode

    from pipelines.adapters.llamaindex import HippoRAGRetriever

    retriever = HippoRAGRetriever(rag, k=K)
    for q in questions:
        result = expected(rag, q)
        nodes = retriever.retrieve(q)
        assert [n.node.node_id for n in nodes] == result.passage_ids
        for n, hit in zip(nodes, result.hits, strict=True):
            assert n.score == pytest.approx(hit.score)
            assert n.node.get_content() == hit.text
            meta = n.node.metadata
            assert (meta["passage_id"], meta["title"], meta["rank"]) == (
                hit.passage_id,
                hit.title,
                hit.rank,
            )
            assert meta["explanation"] == (hit.explanation.to_dict() if hit.explanation else None)
            # Only the title reaches prompts.
            llm_view = n.node.get_content(metadata_mode=MetadataMode.LLM)
            assert hit.title in llm_view and "explanation" not in llm_view
    nodes = asyncio.run(retriever.aretrieve(questions[0]))
    assert [n.node.node_id for n in nodes] == expected(rag, questions[0]).passage_ids


def test_llamaindex_query_engine(rag, questions: list[str]) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    from pipelines.adapters.llamaindex import HippoRAGRetriever

    engine = RetrieverQueryEngine.from_args(HippoRAGRetriever(rag, k=K), llm=MockLLM(max_tokens=8))
    response = engine.query(questions[0])
    assert str(response).strip()
    assert [n.node.node_id for n in response.source_nodes] == expected(
        rag, questions[0]
    ).passage_ids


def test_llamaindex_mode_and_bad_k(rag, questions: list[str]) -> None:
    pytest.importorskip("llama_index.core")
    from pipelines.adapters.llamaindex import HippoRAGRetriever

    nodes = HippoRAGRetriever(rag, k=K, mode="dense").retrieve(questions[1])
    assert [n.node.node_id for n in nodes] == expected(rag, questions[1], "dense").passage_ids
    with pytest.raises(ValueError, match="k must be"):
        HippoRAGRetriever(rag, k=0)


# -- missing extras ------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("pipelines.adapters.langchain", "langchain_core", "langchain"),
        ("pipelines.adapters.llamaindex", "llama_index", "llamaindex"),
    ],
)
def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, blocked: str, extra: str
) -> None:
    for name in [m for m in sys.modules if m == blocked or m.startswith(blocked + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)  # makes "import blocked" fail
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=rf"pip install 'hipporag-toolkit\[{extra}\]'"):
        importlib.import_module(module)

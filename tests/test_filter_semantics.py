"""Exact filter semantics and bounded inputs, through the CLI and the Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hipporag.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Which lighthouse keeper logged the storms?"
DOCS = [
    {
        "id": f"d{i}",
        "title": f"Keeper {i}",
        "text": f"Keeper number {i} of the lighthouse logged {i + 3} storms in {2000 + i}.",
        "metadata": {
            "year": 2000 + i,
            "tenant": "acme" if i % 2 == 0 else "globex",
            "tags": ["coast", f"t{i}"],
            "published": [
                "0001-01-01T03:00:00+05:00",  # 0000-12-31 22:00 UTC: before year 1
                "9999-12-31T22:00:00-05:00",  # 10000-01-01 03:00 UTC: after year 9999
                "2020-05-01",
                "2021-06-01T12:00:00Z",
            ][i % 4],
        },
    }
    for i in range(8)
]
DOCS[7]["metadata"]["*"] = "star"


@pytest.fixture(scope="module")
def index_path(tmp_path_factory) -> Path:
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    src = tmp_path_factory.mktemp("sem") / "docs.json"
    src.write_text(json.dumps(DOCS), encoding="utf-8")
    passages, stats = read_corpus(src)
    out = src.parent / "index"
    IndexBuilder(IndexConfig()).build(passages, out, read_stats=stats.to_dict())
    return out


@pytest.fixture(scope="module")
def rag(index_path):
    from pipelines.facade import HippoRAG

    return HippoRAG.open(index_path)


def docs(result) -> list[str]:
    return sorted(h.doc_id for h in result.hits)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    from pipelines.cli import main

    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def cli_docs(capsys, index_path, *filters: str, mode: str = "dense") -> list[str]:
    flags = [x for f in filters for x in ("--filter", f)]
    rc, out, err = cli(
        capsys, "retrieve", str(index_path), QUESTION, "-k", "8", "--mode", mode, "--json", *flags
    )
    assert rc == 0, err
    return sorted(h["doc_id"] for h in json.loads(out)["hits"])


def test_repeated_conditions_on_one_key_are_anded(capsys, index_path) -> None:
    assert cli_docs(capsys, index_path, "year=2001") == ["d1"]
    assert cli_docs(capsys, index_path, "year=2001", "year=2003") == []
    assert cli_docs(capsys, index_path, '{"year": 2001}', "year=2003") == []
    assert cli_docs(capsys, index_path, '{"year": 2003}', "year=2003") == ["d3"]
    assert cli_docs(capsys, index_path, '{"year": {"gte": 2005}}', '{"year": {"lt": 2002}}') == []
    assert cli_docs(capsys, index_path, "year>=2002", '{"year": {"lt": 2004}}') == ["d2", "d3"]
    assert cli_docs(capsys, index_path, "tenant=acme", "tenant=globex", mode="hybrid") == []


def test_api_and_semantics(rag) -> None:
    from hipporag.filters import and_filters

    spec = and_filters({"year": {"gte": 2005}}, {"year": {"lt": 2002}})
    assert docs(rag.retrieve(QUESTION, k=8, mode="dense", filters=spec)) == []
    spec = and_filters({"tags": "coast"}, {"tags": {"in": ["t1", "t4"]}})
    assert docs(rag.retrieve(QUESTION, k=8, mode="hipporag2", filters=spec)) == ["d1", "d4"]


def test_unknown_key_fails_with_did_you_mean_or_matches_nothing(capsys, index_path, rag) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "pipelines.cli", "retrieve", str(index_path), QUESTION]
    done = subprocess.run(
        [*args, "--filter", "tenat=globex"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "did you mean 'tenant'" in lines[0], done.stderr
    rc, out, _err = cli(
        capsys,
        "retrieve",
        str(index_path),
        QUESTION,
        "--json",
        "--filter",
        "tenat=globex",
        "--set",
        "unknown_filter_keys=match_none",
    )
    assert rc == 0 and json.loads(out)["hits"] == []
    with pytest.raises(InputError, match="did you mean 'tenant'"):
        rag.retrieve(QUESTION, filters={"tenat": "globex"})
    # a per-call policy (the service's tenant keys) is cached apart from the default one
    none = rag.allowed({"tenat": "globex"}, unknown_keys="match_none")
    assert none is not None and none.size == 0
    assert rag.allowed({"tenat": "globex"}, unknown_keys="match_none") is none
    with pytest.raises(InputError, match="did you mean 'tenant'"):
        rag.allowed({"tenat": "globex"})


def test_bounded_inputs_give_one_line_errors(rag) -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = {"not": deep}
    bad = [
        ({"year": 10**400}, "out of range"),
        ({"year": {"gte": float("inf")}}, "finite"),
        ({"tenant": deep}, "nest deeper"),
        ({"tenant": "a\udc80"}, "lone surrogate"),
        ({"ten\ud800ant": "a"}, "lone surrogate"),
        ({"x": "1"}, "unknown metadata key"),
    ]
    for spec, fragment in bad:
        with pytest.raises(InputError) as err:
            rag.retrieve(QUESTION, filters=spec)
        assert fragment in err.value.message and "\n" not in err.value.message


def test_a_star_key_and_dates_at_the_ends_of_time(rag) -> None:
    assert docs(rag.retrieve(QUESTION, k=8, mode="dense", filters={"*": "star"})) == ["d7"]
    early = {"published": {"lt": "0001-01-01T00:00:00"}}
    assert docs(rag.retrieve(QUESTION, k=8, mode="dense", filters=early)) == ["d0", "d4"]
    late = {"published": {"gt": "9999-12-31T23:00:00-02:00"}}  # 10000-01-01 01:00 UTC
    assert docs(rag.retrieve(QUESTION, k=8, mode="dense", filters=late)) == ["d1", "d5"]
    edge = {"published": {"gte": "0001-01-01T04:00:00+05:00"}}  # 0000-12-31 23:00 UTC
    assert "d0" not in docs(rag.retrieve(QUESTION, k=8, mode="dense", filters=edge))


def test_cli_json_nested_too_deep_is_one_line(capsys, index_path) -> None:
    spec = '{"tenant": ' + '{"not": ' * 5000 + '"x"' + "}" * 5001
    rc, _, err = cli(capsys, "retrieve", str(index_path), QUESTION, "--filter", spec)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_in_lists_cost_linear_time(rag, n) -> None:
    values = [f"v{i}" for i in range(n)] + ["globex"]
    years = [float(3000 + i) for i in range(n)] + [2003.0]
    t0 = time.perf_counter()
    got = rag.allowed({"tenant": {"in": values}, "year": {"in": years}})
    elapsed = time.perf_counter() - t0
    assert got is not None and got.tolist() == [3]
    assert elapsed < 15, f"an 'in' list of {n} values took {elapsed:.1f} s"


def test_langchain_per_call_filter_cannot_widen_the_configured_one(rag) -> None:
    pytest.importorskip("langchain_core")
    from pipelines.adapters.langchain import HippoRAGRetriever

    r = HippoRAGRetriever(rag=rag, k=8, search_kwargs={"filters": {"tenant": "acme"}})
    assert {d.metadata["tenant"] for d in r.invoke(QUESTION)} == {"acme"}
    assert r.invoke(QUESTION, filters={"tenant": "globex"}) == []
    narrowed = r.invoke(QUESTION, filters={"year": {"gte": 2004}})
    assert sorted(d.metadata["doc_id"] for d in narrowed) == ["d4", "d6"]


def test_llamaindex_two_filters_on_one_key_are_anded(rag) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

    from pipelines.adapters.llamaindex import HippoRAGRetriever

    spec = MetadataFilters(
        filters=[
            MetadataFilter(key="year", value=2001, operator="=="),
            MetadataFilter(key="year", value=2003, operator="=="),
        ]
    )
    assert HippoRAGRetriever(rag, k=8, filters=spec).retrieve(QUESTION) == []


def test_lone_surrogate_in_document_metadata_is_one_line(tmp_path) -> None:
    src = tmp_path / "docs.json"
    src.write_text('[{"title": "A", "text": "Alpha.", "metadata": {"lang": "x\\udc80"}}]')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "index", str(src), "--out", str(tmp_path / "i")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "lone surrogate" in done.stderr
    assert not (tmp_path / "i").exists()

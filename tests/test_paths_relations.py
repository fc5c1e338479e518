"""Paths that name relations: explanation steps on fact edges, and fact attributes in exports.

Checked against the index's own tables (``fact_triples``, ``fact_provenance``,
``synonymy``) on the demo index built with real spaCy OpenIE and MiniLM.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from hipporag.display import result_html
from hipporag.index.analysis import export_graphml, to_igraph, to_networkx
from hipporag.index.reader import Index
from pipelines.facade import HippoRAG

MODES = ("hybrid", "hipporag2", "hipporag1")


@pytest.fixture(scope="module")
def index(demo_index_path: Path):
    idx = Index.open(demo_index_path)
    yield idx
    idx.close()


@pytest.fixture(scope="module")
def triples(index) -> dict[tuple[str, str], set[str]]:
    """``(subject name, object name) -> relations`` of the live facts."""
    out: dict[tuple[str, str], set[str]] = {}
    for s, r, o in index.sql("SELECT subject, relation, object FROM fact_triples").iter_rows():
        out.setdefault((s, o), set()).add(r)
    return out


@pytest.fixture(scope="module")
def explained(demo_index_path, demo_questions_path):
    """Every hit of every demo question in the graph modes (k=5)."""
    rag = HippoRAG.open(demo_index_path)
    questions = json.loads(demo_questions_path.read_text(encoding="utf-8"))
    return [
        h
        for mode in MODES
        for q in questions
        for h in rag.retrieve(q["question"], k=5, mode=mode).hits
    ]


@pytest.mark.slow
def test_fact_steps_name_their_relation(explained, triples, index):
    synonyms = {
        frozenset((index.entity_names[a], index.entity_names[b]))
        for a, b in index.sql("SELECT src, dst FROM synonymy").iter_rows()
    }
    fact_steps = 0
    for hit in explained:
        e = hit.explanation
        assert len(e.steps) == max(len(e.path) - 1, 0)
        for step, (a, b) in zip(e.steps, zip(e.path, e.path[1:], strict=False), strict=True):
            assert (step.src, step.dst) == (a, b)
            if a.startswith("[") or b.startswith("["):
                assert step.kind == "mention" and step.relation is None
            elif step.kind == "fact":
                fact_steps += 1
                subj, obj = (b, a) if step.reverse else (a, b)
                assert step.relation in triples[(subj, obj)]
                arrow = f"<-[{step.relation}]-" if step.reverse else f"-[{step.relation}]->"
                assert f"{a} {arrow} {b}" in e.path_text
            else:  # entity to entity without a fact: a synonymy edge
                assert step.kind == "synonymy"
                assert (a, b) not in triples and (b, a) not in triples
                assert frozenset((a, b)) in synonyms
    assert fact_steps > 0, "the demo questions cross fact edges"


@pytest.mark.slow
def test_retrieve_json_and_text_carry_relations(demo_index_path, demo_questions_path, capsys):
    from pipelines.cli import main

    rag = HippoRAG.open(demo_index_path)
    for mode in MODES:  # the first question whose hits cross a fact edge, through the CLI
        for q in json.loads(demo_questions_path.read_text(encoding="utf-8")):
            res = rag.retrieve(q["question"], k=5, mode=mode)
            hit = next(
                (h for h in res.hits if any(s.kind == "fact" for s in h.explanation.steps)), None
            )
            if hit is None:
                continue
            step = next(s for s in hit.explanation.steps if s.kind == "fact")
            argv = ["retrieve", str(demo_index_path), q["question"], "--mode", mode]
            assert main([*argv, "--json"]) == 0
            data = json.loads(capsys.readouterr().out)
            found = [x["explanation"] for x in data["hits"] if x["passage_id"] == hit.passage_id]
            assert found[0]["path_text"] == hit.explanation.path_text
            assert found[0]["path_steps"] == [s.to_dict() for s in hit.explanation.steps]
            assert any(s["relation"] == step.relation for s in found[0]["path_steps"])
            assert main(argv) == 0
            assert f"path: {hit.explanation.path_text}" in capsys.readouterr().out
            html = result_html(res)
            assert f"[{step.relation}]" in html.replace("&#x27;", "'")
            return
    pytest.fail("no demo question crosses a fact edge")


def _facts_by_pair(index) -> dict[tuple[int, int], tuple[set[str], set[str]]]:
    """``(min, max) entity pair -> (relations, supporting passage ids)`` from the tables."""
    rows = index.sql(
        "SELECT f.subject_idx, f.object_idx, f.relation, p.passage_id FROM facts f "
        "JOIN fact_provenance fp ON fp.fact_idx = f.fact_idx "
        "JOIN passages p ON p.passage_idx = fp.passage_idx"
    )
    out: dict[tuple[int, int], tuple[set[str], set[str]]] = {}
    for s, o, r, pid in rows.iter_rows():
        rels, pids = out.setdefault((min(s, o), max(s, o)), (set(), set()))
        rels.add(r)
        pids.add(pid)
    return out


@pytest.mark.slow
def test_exports_carry_relations_and_passages(index, tmp_path):
    expected = _facts_by_pair(index)
    assert expected
    path = export_graphml(index, tmp_path / "kg.graphml")
    g = nx.read_graphml(path, node_type=int)
    ig = to_igraph(index)
    multi = to_networkx(index, multigraph=True)
    seen = 0
    for a, b, d in g.edges(data=True):
        pair = (min(a, b), max(a, b))
        if "fact" not in d["kinds"].split(","):
            assert d["relation"] == "" and json.loads(d["passage_ids"]) == []
            continue
        seen += 1
        rels, pids = expected[pair]
        assert set(d["relation"].split(" | ")) == rels
        assert set(json.loads(d["passage_ids"])) == pids
        facts = json.loads(d["facts"])
        names = {g.nodes[a]["name"], g.nodes[b]["name"]}
        assert all({s, o} == names and r in rels for s, r, o in facts)
        e = ig.es[ig.get_eid(a, b)]
        assert (e["relation"], e["passage_ids"]) == (d["relation"], d["passage_ids"])
        assert multi.edges[a, b, "fact"]["relation"] == d["relation"]
    assert seen == len(expected)


class _Facts:
    """The few index lookups :class:`FactPairs` reads, over given arrays (a fast unit test)."""

    def __init__(self, subj, obj, relations, live):
        import numpy as np

        self._ends = (np.array(subj), np.array(obj))
        self._relations, self._live = relations, np.array(live, dtype=bool)
        self.n_facts, self.n_entities = len(subj), 10

    def fact_endpoints(self):
        return self._ends

    def fact_relations(self):
        return self._relations

    def live(self, table):
        assert table == "facts"
        return self._live


def test_fact_pairs_skip_deleted_facts_and_prefer_the_path_direction():
    from retrievers.relations import FactPairs

    pairs = FactPairs(
        _Facts([1, 2, 1, 3], [2, 1, 2, 4], ["old", "employs", "works for", "x"], [0, 1, 1, 0])
    )
    assert pairs.between(1, 2) == ("works for", False, 1)  # the deleted "old" is never named
    assert pairs.between(2, 1) == ("employs", False, 1)
    assert pairs.between(3, 4) is None  # its only fact was deleted
    assert FactPairs(_Facts([], [], [], [])).between(1, 2) is None

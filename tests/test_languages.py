"""Passages in several languages, through the CLI and the facade.

French is read by spaCy's French pipeline when ``[openie] spacy_models`` names
it; Russian and Chinese, with no pipeline configured, are indexed without
triples and counted (never parsed by the English pipeline into junk such as
``(elle a épousé, be, pierre curie)`` or the entity ``в``); query linking and
the note loop find Chinese and Russian names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hipporag.config import IndexConfig, OpenIEConfig
from hipporag.index import Index
from hipporag.text import normalize_entity
from pipelines.facade import HippoRAG
from pipelines.qa import make_note_loop
from retrievers.note.graph_view import IndexGraphView
from tests.demo_index import ROOT

FRENCH = [
    {
        "id": "fr-curie",
        "title": "Marie Curie",
        "text": "Marie Curie est née à Varsovie. Elle a épousé Pierre Curie en 1895 et a "
        "reçu le prix Nobel de physique.",
    },
    {
        "id": "fr-paris",
        "title": "Paris",
        "text": "Paris est la capitale de la France. La ville est traversée par la Seine.",
    },
]
RUSSIAN = [
    {
        "id": "ru-curie",
        "title": "Мария Кюри",
        "text": "Мария Кюри родилась в Варшаве. В 1895 году она вышла замуж за Пьера Кюри.",
    },
    {"id": "ru-moscow", "title": "Москва", "text": "Москва — столица России. Город стоит на реке."},
]
CHINESE = [
    {
        "id": "zh-curie",
        "title": "玛丽·居里",
        "text": "玛丽·居里出生于华沙。她于1895年与皮埃尔·居里结婚，并获得诺贝尔物理学奖。",
    },
    {"id": "zh-beijing", "title": "北京", "text": "北京是中华人民共和国的首都，位于华北平原。"},
]
ENGLISH = [
    {
        "id": "en-seine",
        "title": "Seine",
        "text": "The Seine is a river in northern France. It flows through Paris into the "
        "English Channel.",
    }
]
TITLES = {r["id"]: normalize_entity(r["title"]) for r in RUSSIAN + CHINESE}


def _entities_and_facts(index: Index) -> tuple[set[str], dict[str, set[tuple[str, str, str]]]]:
    names = index.entity_names
    by_pid = index.passage_index()
    facts = index.facts_of_passages(list(by_pid.values()))
    triples = {
        pid: {(names[f.subject], f.relation, names[f.object]) for f in facts.get(i, [])}
        for pid, i in by_pid.items()
    }
    return {n for n in names if n}, triples


def _junk(names: set[str]) -> set[str]:
    """Single letters and pronoun phrases: what an English parse of French/Russian gives."""
    return {n for n in names if len(n) < 2 or n.split()[0] in ("elle", "il", "она", "в")}


@pytest.fixture(scope="module")
def multi_index(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """French, Russian, Chinese and English passages indexed by ``hipporag index``."""
    d = tmp_path_factory.mktemp("languages")
    corpus = d / "corpus.json"
    corpus.write_text(json.dumps(FRENCH + RUSSIAN + CHINESE + ENGLISH, ensure_ascii=False))
    config = d / "config.toml"
    config.write_text('[openie]\nspacy_models = {fr = "fr_core_news_sm"}\n')
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = d / "idx"
    args = ["index", str(corpus), "--out", str(out), "--config", str(config)]
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.mark.slow
def test_cli_routes_french_and_skips_other_languages_with_a_count(multi_index) -> None:
    out, proc = multi_index
    assert (
        "warning: openie skipped 4 passages in languages with no spaCy model (ru 2, zh 2)"
        in proc.stdout
    ), proc.stdout
    index = Index.open(out)
    assert index.counts["passages"] == 7
    stats = index.meta["components"]["extractor_stats"]
    assert stats["skipped_language"] == 4 and stats["skipped_lang_zh"] == 2
    names, triples = _entities_and_facts(index)
    # French read by the French pipeline: names, and the pronoun resolved to the title.
    assert {"marie curie", "pierre curie", "varsovie"} <= names
    assert ("marie curie", "épouser", "pierre curie") in triples["fr-curie"]
    assert ("marie curie", "née à", "varsovie") in triples["fr-curie"]
    assert not _junk(names)
    # Russian and Chinese: no triples, their titles their only entities; still retrievable.
    for pid, title in TITLES.items():
        assert triples[pid] == set()
        ents = index.entities_of_passages([index.passage_index()[pid]])
        assert [index.entity_names[e] for e in next(iter(ents.values()))] == [title]
    rag = HippoRAG.open(out)
    hit = rag.retrieve(CHINESE[0]["text"], k=1, mode="dense").hits[0]
    assert hit.passage_id == "zh-curie"


@pytest.mark.slow
def test_facade_without_a_french_model_skips_french_too(tmp_path) -> None:
    rag = HippoRAG.build(ENGLISH, tmp_path / "idx")
    declared = {"id": "en-de", "title": "Rhine", "text": "The Rhine flows through Basel."}
    report = rag.insert([*FRENCH, *RUSSIAN, {**declared, "metadata": {"lang": "de-CH"}}])
    assert report.warnings == [
        "openie skipped 5 passages in languages with no spaCy model (de 1, fr 2, ru 2): "
        'indexed without triples; set [openie] spacy_models = {de = "MODEL"} or use --openie llm'
    ]
    assert "warning: openie skipped 5 passages" in report.summary()
    names, triples = _entities_and_facts(rag.index)
    assert not _junk(names), _junk(names)
    assert all(not triples[r["id"]] for r in [*FRENCH, *RUSSIAN, declared])
    assert triples["en-seine"]  # English is read as before


@pytest.mark.slow
def test_facade_config_with_an_unknown_language_code_fails_clearly() -> None:
    from hipporag.errors import ConfigError

    with pytest.raises(ConfigError, match="not a language code"):
        IndexConfig(openie=OpenIEConfig.from_dict({"spacy_models": {"French": "fr_core_news_sm"}}))


@pytest.mark.slow
def test_chinese_and_russian_questions_link_their_names(multi_index) -> None:
    out, _ = multi_index
    rag = HippoRAG.open(out)
    view = IndexGraphView(rag.index)
    names = rag.index.entity_names
    q_zh = "玛丽·居里的丈夫是谁？"
    assert {names[e] for e in view.question_entities(q_zh)} == {"玛丽·居里"}
    assert {names[e] for e in view.question_entities("Где родилась Мария Кюри?")} == {"мария кюри"}
    seeds = rag.retrieve("Где родилась Мария Кюри?", k=3, mode="hipporag1").hits[0]
    assert seeds.explanation is not None
    assert [s.node for s in seeds.explanation.seeds] == ["мария кюри"]
    zh_seeds = rag.retrieve(q_zh, k=3, mode="hipporag1").hits[0].explanation
    assert zh_seeds is not None and [s.node for s in zh_seeds.seeds] == ["玛丽·居里"]


@pytest.mark.slow
def test_note_loop_on_a_chinese_question_picks_no_junk(multi_index) -> None:
    out, _ = multi_index
    result = make_note_loop(HippoRAG.open(out)).run("玛丽·居里的丈夫是谁？")
    note = result.note
    assert note is not None and note.entities[0] == "玛丽·居里", note
    picked = set(note.entities) | {str(s) for step in result.trace.steps for s in step.seeds}
    assert not _junk(picked), picked
    assert "zh-curie" in note.passage_ids


# -- fast checks of the pieces (no models) -------------------------------------------
def test_unspaced_names_are_found_inside_runs_of_letters() -> None:
    from tests.test_note_names import TinyView

    view = IndexGraphView(TinyView())
    tokyo = view.names.index("東京")
    assert view.question_entities("東京の人口は何人ですか？") == {tokyo: 1.0}
    pids = view.index.passage_ids
    assert set(view.link_text("東京は日本の首都です。", pids)) == {tokyo}
    # Not inside a word of a cased script, and no one-character names.
    assert view.question_entities("Who founded Москваград?") == {}


def test_capitalised_runs_leave_out_prepositions_and_question_words() -> None:
    from hipporag.names import capitalised_runs

    assert capitalised_runs("В Москве родилась Мария Кюри. С тех пор она жила в Париже.") == [
        "Москве",
        "Мария Кюри",
        "Париже",
    ]
    assert capitalised_runs("Quand Charles de Gaulle est-il né ?") == ["Charles de Gaulle"]


def test_the_extractor_keeps_its_language_pipelines_when_pickled() -> None:
    import pickle

    from indexers.openie_spacy import SpacyOpenIE

    ie = pickle.loads(pickle.dumps(SpacyOpenIE(models={"fr": "fr_core_news_sm"}, batch_size=8)))
    assert ie.models == {"fr": "fr_core_news_sm"} and ie.batch_size == 8
    assert ie.to_dict()["models"] == {"fr": "fr_core_news_sm"}

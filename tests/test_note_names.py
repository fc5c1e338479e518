"""Note-loop name matching uses the one normaliser and works for every script."""

from __future__ import annotations

import numpy as np
import pytest

from hipporag.graph import CSRGraph
from hipporag.index.lookups import FactRow
from hipporag.text import normalize_entity
from hipporag.types import Passage
from retrievers.note.graph_view import IndexGraphView, contains_name, match_key, words

NAMES = ["zürich", "москва", "東京", "são paulo", "g. stanley hall", "café de flore", "opera"]
TEXTS = [
    "Zürich is a city in Switzerland.",
    "Москва is the capital of Russia.",
    "東京 is the capital of Japan.",
    "São Paulo is in Brazil.",
    "G. Stanley Hall founded a journal.",
    "The Café de Flore is in Paris.",
    "An opera house.",
]


class TinyView:
    """Just the lookups IndexGraphView reads, over a few passages of different scripts."""

    def __init__(self) -> None:
        self.entity_names = [normalize_entity(n) for n in NAMES]
        self.n_entities = len(NAMES)
        self.n_passages = len(TEXTS)
        self.passage_ids = [f"p{i}" for i in range(len(TEXTS))]
        n = self.n_entities + self.n_passages
        src = np.arange(self.n_entities)
        self.graph = CSRGraph.from_edges(n, src, src + self.n_entities, np.ones(src.size))

    def entity_index(self) -> dict[str, int]:
        return {f"e{i}": i for i in range(self.n_entities)}

    def passage_index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.passage_ids)}

    def entity_passage_counts(self) -> np.ndarray:
        return np.ones(self.n_entities, dtype=np.int32)

    def entities_of_passages(self, idxs):  # type: ignore[no-untyped-def]
        return {int(i): [int(i)] for i in idxs}

    def facts_of_passages(self, idxs):  # type: ignore[no-untyped-def]
        return {int(i): [FactRow(int(i), int(i), "is", int(i), TEXTS[int(i)])] for i in idxs}

    def passages(self, idxs):  # type: ignore[no-untyped-def]
        return [Passage(f"p{int(i)}", f"T{int(i)}", TEXTS[int(i)]) for i in idxs]


@pytest.fixture
def view() -> IndexGraphView:
    return IndexGraphView(TinyView())


def test_match_key_is_built_on_normalize_entity() -> None:
    for name in ["Zürich", "МОСКВА", "東京", "São  Paulo", "G. Stanley Hall's", "Ｔｏｋｙｏ"]:
        assert match_key(name) == " ".join(words(normalize_entity(name)))
        assert match_key(name) == match_key(normalize_entity(name))
    assert match_key("МОСКВА") == "москва" and match_key("Ｔｏｋｙｏ") == "tokyo"
    assert words("東京-Москва, São Paulo!") == ["東京", "Москва", "São", "Paulo"]
    assert contains_name(match_key("Where is 東京?"), match_key("東京"))


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("Which river flows through Zürich?", "zürich"),
        ("Who was the mayor of Москва in 1990?", "москва"),
        ("What is the population of 東京?", "東京"),
        ("東京", "東京"),
        ("When was São Paulo founded?", "são paulo"),
        ("What journal did G. Stanley Hall found?", "g. stanley hall"),
        ("Who owns the Café de Flore?", "café de flore"),
    ],
)
def test_question_entities_in_every_script(view, question, name) -> None:
    found = view.question_entities(question)
    assert found == {view.names.index(name): 1.0}


def test_common_words_are_not_names(view) -> None:
    assert view.question_entities("Who sings at the opera in Zürich?") == {0: 1.0}


def test_link_text_finds_names_of_any_script(view) -> None:
    pids = view.index.passage_ids
    for i, name in enumerate(NAMES[:6]):
        text = f"The note mentions {TEXTS[i].split(' is ')[0]} once."
        assert view.link_text(text, pids) == {i: pytest.approx(1 / (1 + np.log1p(1)))}, name
    assert view.resolve("МОСКВА") == 1 and view.resolve("e2") == 2

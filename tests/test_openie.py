import json

import pytest

from hipporag.errors import InputError
from hipporag.types import Passage
from indexers.openie_import import HippoRAGOpenIEImporter
from indexers.openie_spacy import SpacyOpenIE


@pytest.fixture(scope="module")
def spacy_ie():
    ie = SpacyOpenIE()
    ie.warm_up()
    return ie


def triples_of(ie, title, text):
    return {t.as_tuple() for t in ie.extract([Passage.from_text(title, text)])[0].triples}


@pytest.mark.slow
def test_spacy_triples_from_dependency_parse(spacy_ie):
    assert ("Paris", "be capital of", "France") in triples_of(
        spacy_ie, "Paris", "Paris is the capital of France."
    )
    t = triples_of(
        spacy_ie, "Salt Harbour", "Salt Harbour is a 1986 drama film directed by Imre Valko."
    )
    assert any(o == "Imre Valko" and "by" in r for _, r, o in t)
    # pronoun subject resolved to the title
    t = triples_of(spacy_ie, "Corwin Hale", "He married the painter Liesl Moreau in 1965.")
    assert any(s == "Corwin Hale" and o.endswith("Liesl Moreau") for s, _, o in t)


@pytest.mark.slow
def test_spacy_entities_include_title_and_skip_numbers(spacy_ie):
    ex = spacy_ie.extract(
        [Passage.from_text("Northgate Park", "Northgate Park has 18,000 seats and opened in 1911.")]
    )[0]
    assert "Northgate Park" in ex.entities
    assert "18,000" not in ex.entities


@pytest.mark.slow
def test_spacy_non_english_and_odd_text_do_not_crash(spacy_ie):
    ps = [
        Passage.from_text("東京", "東京は日本の首都です。"),
        Passage.from_text("Москва", "Москва — столица России."),
        Passage.from_text("", "!!! ??? ..."),
        Passage.from_text("x", "a " * 2000),
    ]
    out = spacy_ie.extract(ps)
    assert len(out) == 4
    assert "東京" in out[0].entities  # the title survives unicode-intact


def test_import_hipporag_format(tmp_path):
    p1 = Passage.from_text("A", "Alice met Bob.")
    p2 = Passage.from_text("B", "Not in the file.")
    data = {
        "docs": [
            {
                "passage": "A\nAlice met Bob.",
                "extracted_entities": ["Alice", "Bob", 3],
                "extracted_triples": [
                    ["Alice", "met", "Bob"],
                    ["Alice", "met"],
                    ["x", "", "y"],
                    "bad",
                ],
            },
            "not a doc",
        ]
    }
    f = tmp_path / "openie.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    imp = HippoRAGOpenIEImporter(f)
    out = imp.extract([p1, p2])
    assert [t.as_tuple() for t in out[0].triples] == [("Alice", "met", "Bob")]
    assert out[0].skipped == 3 and out[0].entities == ["Alice", "Bob"]
    assert out[1].triples == [] and imp.stats["missing"] == 1
    assert imp.stats["malformed_docs"] == 1 and imp.stats["skipped_triples"] == 3


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"documents": []}', "has no 'docs' list"),
        ('{"docs": [1, 2]}', "no usable entry"),
    ],
)
def test_malformed_openie_file(tmp_path, content, fragment):
    f = tmp_path / "openie.json"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        HippoRAGOpenIEImporter(f).extract([Passage.from_text("A", "x")])
    assert fragment in str(err.value) and "how to fix" in str(err.value)


def test_missing_openie_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        HippoRAGOpenIEImporter(tmp_path / "nope.json").warm_up()


@pytest.mark.data
def test_import_musique_gpt_triples_matches_every_passage(shared_data):
    from indexers.readers import read_corpus

    passages, _ = read_corpus(shared_data / "musique100" / "corpus.json")
    imp = HippoRAGOpenIEImporter(shared_data / "musique100" / "openie_gpt-3.5-turbo-1106.json")
    out = imp.extract(passages)
    assert imp.stats["matched"] == len(passages) == 1890 and imp.stats["missing"] == 0
    # 185 triples in the file do not have exactly three parts
    assert imp.stats["skipped_triples"] == 185
    assert sum(len(e.triples) for e in out) == 17419 - 185

"""EM and token F1 against hand-computed values (SQuAD normalisation, best over aliases)."""

from __future__ import annotations

import pytest

from pipelines.metrics_qa import exact_match, f1_score, mean_scores, normalize_answer, qa_scores


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("The Anglican Communion", "anglican communion"),
        ("  A  cat,  an apple & THE dog. ", "cat apple dog"),
        ("6.8 inches", "68 inches"),  # SQuAD drops punctuation inside numbers too
        ("Theater", "theater"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize_answer(text, norm):
    assert normalize_answer(text) == norm


def test_exact_match_uses_normalisation_and_aliases():
    assert exact_match("the anglican communion.", ["The Anglican Communion"]) == 1.0
    assert exact_match("Stanley Hall", ["G. Stanley Hall", "Stanley Hall"]) == 1.0
    assert exact_match("Hall", ["G. Stanley Hall", "Stanley Hall"]) == 0.0
    assert exact_match("x", "x") == 1.0  # a single gold string works too
    assert exact_match("x", []) == 0.0


def test_f1_hand_computed():
    # pred "stanley hall" vs gold "g stanley hall": P = 2/2, R = 2/3, F1 = 0.8
    assert f1_score("Stanley Hall", ["G. Stanley Hall"]) == pytest.approx(0.8)
    # pred "john smith jr" vs gold "john smith": P = 2/3, R = 1, F1 = 0.8
    assert f1_score("John Smith Jr", ["John Smith"]) == pytest.approx(0.8)
    # the hyphen is dropped, not spaced: "b29 superfortress" vs "boeing b29 superfortress
    # bomber": P = 2/2, R = 2/4, F1 = 2/3
    assert f1_score("B-29 Superfortress", ["Boeing B-29 Superfortress bomber"]) == pytest.approx(
        2 / 3
    )
    # repeated tokens count with multiplicity: "a a b" -> ["b"] vs "b b": P = 1, R = 1/2
    assert f1_score("b", ["b b"]) == pytest.approx(2 / 3)
    assert f1_score("Paris", ["London"]) == 0.0


def test_f1_takes_the_best_alias():
    # vs "g stanley hall": 0.5; vs alias "stanley hall": P = 1, R = 1/2 -> 2/3
    assert f1_score("Hall", ["G. Stanley Hall", "Stanley Hall"]) == pytest.approx(2 / 3)


def test_f1_empty_cases():
    assert f1_score("", [""]) == 1.0
    assert f1_score("the", ["a"]) == 1.0  # both normalise to nothing
    assert f1_score("", ["Paris"]) == 0.0
    assert f1_score("Paris", []) == 0.0


def test_qa_scores_and_mean():
    assert qa_scores("Imre Valko", "Imre Valko", ["Valko"]) == {"em": 1.0, "f1": 1.0}
    assert qa_scores("Valko, the director", "Imre Valko") == {"em": 0.0, "f1": 0.5}
    rows = [qa_scores("Imre Valko", "Imre Valko"), qa_scores("Valko, the director", "Imre Valko")]
    assert mean_scores(rows) == {"em": 0.5, "f1": 0.75}
    assert mean_scores([]) == {"em": 0.0, "f1": 0.0}

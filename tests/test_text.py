import pytest

from hipporag.text import entity_id, normalize_entity, normalize_text, passage_id


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("  The  ZÜRICH ", "the zürich"),
        ('"Paris,"', "paris"),
        ("東京", "東京"),
        ("Москва", "москва"),
        ("Ελλάδα", "ελλάδα"),
        ("القاهرة", "القاهرة"),
        ("ﬁne", "fine"),  # NFKC ligature
        ("ＡＢＣ", "abc"),  # full-width
        ("U.S.", "u.s."),
        ("Apple Inc.", "apple inc."),
        ("the end.", "the end"),
        ("AT&T", "at&t"),
        ("...", ""),
        ("   ", ""),
        ("Straße", "strasse"),  # casefold
    ],
)
def test_normalize_entity(raw, norm):
    assert normalize_entity(raw) == norm


def test_ids_are_stable_and_content_derived():
    a = passage_id("Paris", "Paris is the capital of France.")
    assert a == passage_id("Paris", "Paris  is the capital of France. ")  # whitespace-insensitive
    assert a != passage_id("Paris", "Paris is the capital of france.")
    assert a != passage_id("Lyon", "Paris is the capital of France.")
    assert a.startswith("p_") and len(a) == 18
    assert entity_id("paris") == entity_id("paris") != entity_id("lyon")


def test_normalize_text_keeps_case():
    assert normalize_text(" A\u00a0b\n c ") == "A b c"

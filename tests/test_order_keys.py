"""The stable keys that break ties, against their definition by strings (reference comparisons)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipporag.index.coded import CodedStrings
from retrievers import order

names = st.text(alphabet=st.sampled_from("aAbé Ω\x1f-'"), max_size=6)


class Facts:
    """The few lookups ``keys_of`` reads, over plain lists."""

    def __init__(self, ents: list[str], subj, rels, obj, coded: bool) -> None:
        self.entity_names, self.n_entities = ents, len(ents)
        self._ends = (np.array(subj, np.int64), np.array(obj, np.int64))
        if coded:
            vocab = sorted(set(rels))[::-1]  # any vocabulary order: keys must not depend on it
            codes = np.array([vocab.index(r) for r in rels], np.int32)
            self._rels = CodedStrings(codes, vocab)
        else:
            self._rels = rels

    def fact_endpoints(self):
        return self._ends

    def fact_relations(self):
        return self._rels


def reference(values: list[str]) -> list[int]:
    """Rank by Python string order, ties by position."""
    order_ = sorted(range(len(values)), key=lambda i: values[i])
    out = [0] * len(values)
    for r, i in enumerate(order_):
        out[i] = r
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(names, max_size=30), st.booleans())
def test_ranks_of_strings_equal_python_order_on_both_paths(values, small):
    if not small:
        order._NUMPY_SORT_BYTES, saved = 0, order._NUMPY_SORT_BYTES
    try:
        assert order._rank_of(values).tolist() == reference(values)
        dense = order._rank_of(values, dense=True).tolist()
        distinct = sorted(set(values))
        assert dense == [distinct.index(v) for v in values]
    finally:
        if not small:
            order._NUMPY_SORT_BYTES = saved


@settings(max_examples=60, deadline=None)
@given(
    st.lists(names, min_size=1, max_size=8, unique=True),
    st.lists(st.tuples(st.integers(0, 7), names, st.integers(0, 7)), max_size=25),
    st.booleans(),
)
def test_fact_keys_order_facts_by_subject_relation_object_then_row(ents, facts, coded):
    facts = [(s % len(ents), r, o % len(ents)) for s, r, o in facts]
    index = Facts(ents, [f[0] for f in facts], [f[1] for f in facts], [f[2] for f in facts], coded)
    got = order.keys_of(index, "facts").tolist()
    triples = [(ents[s], r, ents[o]) for s, r, o in facts]
    want = sorted(range(len(facts)), key=lambda i: triples[i])
    assert [got.index(r) for r in range(len(facts))] == want


def test_long_strings_are_ranked_without_a_fixed_width_array():
    values = ["b", "a" * 200_000, "c"] * 200  # NumPy would need 600 * 200,000 * 4 bytes
    assert order._NUMPY_SORT_BYTES < 600 * 200_000 * 4
    assert order._rank_of(values).tolist() == reference(values)


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_single(n):
    assert order._rank_of(["x"] * n).tolist() == list(range(n))

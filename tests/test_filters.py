"""Filter specs: validation, semantics over a real DuckDB passages table, CLI words."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from hipporag.errors import InputError
from hipporag.filters import allowed_passages, compile_filters, parse_filter_args
from hipporag.metadata import metadata_json

ROWS = [
    {"source": "manual", "year": 2021, "tenant": "a", "lang": "en", "tags": ["net", "wifi"]},
    {"source": "manual", "year": 2019, "tenant": "b", "lang": "de", "published": "2019-03-02"},
    {"source": "faq", "year": 2024, "tenant": "c", "lang": "en", "published": "2024-07-15"},
    {"source": "faq", "year": "2022", "tenant": "a", "draft": True},
    {},
    {"source": "manual", "year": 2020.5, "tenant": "b", "lang": "fr", "tags": ["wifi"]},
]


class TableIndex:
    """The two primitives :func:`allowed_passages` uses, over a real DuckDB database."""

    def __init__(self, path: Path, rows: list[dict]) -> None:
        self.path = path
        con = duckdb.connect(str(path / "t.duckdb"))
        con.execute("CREATE TABLE passages (passage_idx INTEGER, metadata JSON)")
        for i, r in enumerate(rows):
            con.execute("INSERT INTO passages VALUES (?, ?)", [i, metadata_json(r)])
        self._con = con

    def connection(self):
        return self._con


@pytest.fixture()
def index(tmp_path: Path) -> TableIndex:
    return TableIndex(tmp_path, ROWS)


def matching(index, spec) -> list[int]:
    got = allowed_passages(index, spec)
    assert got is not None and got.dtype == np.int64
    assert list(got) == sorted(got)
    return got.tolist()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"source": "manual"}, [0, 1, 5]),
        ({"tenant": ["a", "b"]}, [0, 1, 3, 5]),
        ({"year": {"gte": 2020}}, [0, 2, 3, 5]),  # "2022" (a string) compares as a number
        ({"year": {"gt": 2019, "lt": 2022}}, [0, 5]),
        ({"year": 2021}, [0]),
        ({"lang": {"not": "de"}}, [0, 2, 3, 4, 5]),  # no lang: matches the negation
        ({"lang": {"ne": "de"}}, [0, 2, 3, 4, 5]),
        ({"lang": {"nin": ["de", "fr"]}}, [0, 2, 3, 4]),
        ({"lang": {"in": ["de", "fr"]}}, [1, 5]),
        ({"published": {"gte": "2020-01-01"}}, [2]),
        ({"published": {"lt": "2024-07-15T00:00:01"}}, [1, 2]),
        ({"tags": "wifi"}, [0, 5]),  # a list-valued key: contains
        ({"tags": ["net", "x"]}, [0]),
        ({"draft": True}, [3]),
        ({"lang": {"exists": False}}, [3, 4]),
        ({"source": "manual", "year": {"gte": 2020}, "tenant": ["a", "b"]}, [0, 5]),
        ({"year": {"not": {"gte": 2020}}}, [1, 4]),
        ({"source": "nothing"}, []),
    ],
)
def test_semantics(index, spec, expected) -> None:
    assert matching(index, spec) == expected


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_times_with_and_without_offsets_compare_in_utc(tmp_path, zone) -> None:
    times = [
        "2024-05-01T10:00:00+02:00",
        "2024-05-01T09:00:00",
        "2024-05-01",
        "2024-05-01T07:30:00Z",
    ]
    idx = TableIndex(tmp_path, [{"t": t} for t in [*times, "junk"]])
    idx.connection().execute(f"SET TimeZone = '{zone}'")  # the session's zone plays no part
    assert matching(idx, {"t": {"gte": "2024-05-01T08:00:00"}}) == [0, 1]
    assert matching(idx, {"t": {"lt": "2024-05-01T10:00:00+02:00"}}) == [2, 3]


def test_no_filter_means_no_restriction(index) -> None:
    assert allowed_passages(index, None) is None
    assert allowed_passages(index, {}) is None


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (["source", "manual"], "expected a dict"),
        ({"": 1}, "not a non-empty string"),
        ({"year": {"gte": "soon"}}, "ISO date"),
        ({"year": {"between": [1, 2]}}, "unknown operator 'between'"),
        ({"year": {}}, "empty condition"),
        ({"tenant": []}, "non-empty list"),
        ({"tenant": {"in": "a"}}, "non-empty list"),
        ({"x": {"gte": True}}, "not a boolean"),
        ({"x": {"a": 1}}, "unknown operator"),
        ({"x": None}, "not a string, number or boolean"),
        ({"x": {"exists": "yes"}}, "'exists' takes true or false"),
    ],
)
def test_bad_specs_give_one_line_errors(spec, fragment) -> None:
    with pytest.raises(InputError) as err:
        compile_filters(spec)
    assert fragment in err.value.message and "\n" not in err.value.message
    assert "operators" in err.value.hint


def test_values_are_parameters_not_sql(index) -> None:
    sql, params = compile_filters({"source": "x' OR 1=1 --", "we'ird\"key": "v"})
    assert "OR 1=1" not in sql and "x' OR 1=1 --" in params
    assert matching(index, {"source": "x' OR 1=1 --"}) == []


def test_index_without_metadata_column(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE passages (passage_idx INTEGER, text VARCHAR)")

    class Old:
        path = tmp_path

        def connection(self):
            return con

    with pytest.raises(InputError, match="no passage metadata") as err:
        allowed_passages(Old(), {"a": 1})
    assert "rebuild" in err.value.hint


def test_cli_words() -> None:
    assert parse_filter_args(["source=manual", "year>=2020", "year<2025", "lang!=de"]) == {
        "source": "manual",
        "year": {"gte": 2020, "lt": 2025},
        "lang": {"ne": "de"},
    }
    assert parse_filter_args(["tenant=a,b", "draft=true", "score>0.5"]) == {
        "tenant": ["a", "b"],
        "draft": True,
        "score": {"gt": 0.5},
    }
    assert parse_filter_args(["published>=2024-01-01"]) == {"published": {"gte": "2024-01-01"}}
    with pytest.raises(InputError, match="bad --filter"):
        parse_filter_args(["no-operator"])
    with pytest.raises(InputError, match="ISO date"):
        parse_filter_args(["year>=soon"])


def test_cli_json_filter() -> None:
    from pipelines.commands.retrieve import filters_from_args

    spec = filters_from_args(['{"year": {"gte": 2020}}', "lang=en"])
    assert spec == {"year": {"gte": 2020}, "lang": "en"}
    assert filters_from_args(None) is None
    with pytest.raises(InputError, match="not valid JSON"):
        filters_from_args(["{year"])


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (({"tenant": "a"}, {"source": "faq"}), [3]),
        (({"tenant": "a"}, {"tenant": "b"}), []),  # a tenant cannot widen its filter
        (({"tenant": "a"}, {"tenant": ["a", "b"]}), [0, 3]),
        (({"tenant": ["a", "b"]}, {"tenant": {"ne": "a"}}), [1, 5]),
        (({"tenant": "b"}, None, {}), [1, 5]),
        (({"year": {"gte": 2020}}, {"year": {"gte": 2022}}, {"tenant": "a"}), [3]),
        (({"lang": {"not": "de"}}, {"lang": {"not": "fr"}}), [0, 2, 3, 4]),
    ],
)
def test_all_of_matches_each_spec(index, specs, expected) -> None:
    from hipporag.filters import all_of

    combined = all_of(*specs)
    assert matching(index, combined) == expected
    # the same as intersecting the specs' own allow-lists
    each = [set(matching(index, s)) for s in specs if s]
    assert sorted(set.intersection(*each)) == expected


def test_all_of_of_nothing_and_bad_specs() -> None:
    from hipporag.filters import all_of

    assert all_of() is None and all_of(None, {}) is None
    with pytest.raises(InputError, match="unknown operator"):
        all_of({"tenant": "a"}, {"year": {"bogus": 1}})
    with pytest.raises(InputError, match="'all' needs"):
        compile_filters({"tenant": {"all": []}})

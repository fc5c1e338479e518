"""Unit tests of hipporag.llm.jsonparse: extraction, repair, rejection, schema validation."""

from __future__ import annotations

import pytest

from hipporag.errors import HippoRAGError, LLMError
from hipporag.llm.jsonparse import (
    MAX_CHARS,
    MAX_DEPTH,
    ModelOutputError,
    parse_json,
    parse_json_object,
    validate,
)

NER = {
    "type": "object",
    "properties": {"named_entities": {"type": "array", "items": {"type": "string"}}},
    "required": ["named_entities"],
    "additionalProperties": False,
}
TRIPLES = {
    "type": "object",
    "properties": {
        "triples": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
        }
    },
    "required": ["triples"],
}


# -- finding the object ---------------------------------------------------------


def test_plain_object():
    assert parse_json_object('{"named_entities": ["Paris"]}', NER) == {"named_entities": ["Paris"]}


def test_error_type_is_llm_error():
    assert issubclass(ModelOutputError, LLMError)
    assert issubclass(ModelOutputError, HippoRAGError)


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"named_entities": ["Paris"]}\n```',
        '```\n{"named_entities": ["Paris"]}\n```',
        'Sure! Here you go:\n```json\n{"named_entities": ["Paris"]}\n```\nHope it helps.',
        'The answer is {"named_entities": ["Paris"]} as requested.',
        '\n\n  {"named_entities": ["Paris"]}  \n',
        '```JSON\r\n{"named_entities": ["Paris"]}\r\n```',
    ],
)
def test_fences_and_prose(text):
    parsed = parse_json(text, NER)
    assert parsed.value == {"named_entities": ["Paris"]}
    assert not parsed.repaired


def test_prose_with_braces_before_the_object():
    text = 'Use the form {like this}. Answer: {"named_entities": ["Oslo"]}'
    assert parse_json_object(text, NER) == {"named_entities": ["Oslo"]}


def test_first_object_wins():
    text = '{"named_entities": ["A"]} and also {"named_entities": ["B"]}'
    assert parse_json_object(text, NER) == {"named_entities": ["A"]}


def test_braces_inside_strings_do_not_confuse_the_scanner():
    text = '{"named_entities": ["a } b", "c { d", "e \\" } f"]} trailing }'
    assert parse_json_object(text, NER)["named_entities"] == ["a } b", "c { d", 'e " } f']


def test_nested_objects_and_unicode():
    text = '{"a": {"b": [1, 2.5, {"c": null}], "d": "Zürich 東京 \\u00e9"}, "e": true}'
    assert parse_json_object(text) == {
        "a": {"b": [1, 2.5, {"c": None}], "d": "Zürich 東京 é"},
        "e": True,
    }


@pytest.mark.parametrize("text", ["", "   ", "no json here", "[1, 2, 3]", '"just a string"'])
def test_no_object(text):
    with pytest.raises(ModelOutputError, match="no JSON object"):
        parse_json_object(text)


def test_not_a_string():
    with pytest.raises(ModelOutputError):
        parse_json_object(None)  # type: ignore[arg-type]


# -- repairs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"named_entities": ["Paris", "France",]}',
        '{"named_entities": ["Paris", "France"],}',
        '{"named_entities": ["Paris", "France" , ] , }',
    ],
)
def test_trailing_commas(text):
    parsed = parse_json(text, NER)
    assert parsed.value == {"named_entities": ["Paris", "France"]}
    assert parsed.repairs == ["trailing_comma"]


def test_comma_inside_string_is_kept():
    assert parse_json_object('{"a": "x,]", "b": [1,]}') == {"a": "x,]", "b": [1]}


def test_escapes_decide_where_strings_end_for_both_scans():
    # In JSON terms: "x\\" ends with an escaped backslash, so its quote closes it; in
    # "y\",]" the quote is escaped, so ",]" is text. Only the last comma is trailing.
    text = '{"a": "x\\\\", "b": ["y\\",]",]}'
    parsed = parse_json(text)
    assert parsed.value == {"a": "x\\", "b": ['y",]']}
    assert parsed.repairs == ["trailing_comma"]


def test_raw_newline_in_string_is_accepted():
    assert parse_json_object('{"a": "line 1\nline 2"}') == {"a": "line 1\nline 2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"named_entities": ["Paris", "France"', ["Paris", "France"]),
        ('{"named_entities": ["Paris", "France", ', ["Paris", "France"]),
        ('{"named_entities": ["Paris", "Fra', ["Paris"]),  # half a string is dropped
        ('{"named_entities": ["Paris", "Fr\\', ["Paris"]),  # cut inside an escape
        ('{"named_entities": [', []),
        ('```json\n{"named_entities": ["Paris"', ["Paris"]),  # fence never closed
    ],
)
def test_truncated_lists(text, expected):
    parsed = parse_json(text, NER)
    assert parsed.value == {"named_entities": expected}
    assert parsed.repairs == ["truncated"]


def test_truncated_triples_keep_complete_ones():
    text = '{"triples": [["a", "b", "c"], ["d", "e", "f"], ["g", "h'
    value = parse_json_object(text)
    assert value["triples"][:2] == [["a", "b", "c"], ["d", "e", "f"]]
    assert value["triples"][2] == ["g"]  # the caller drops the incomplete triple
    with pytest.raises(ModelOutputError, match="expected at least 3"):
        parse_json_object(text, TRIPLES)


def test_truncated_nested_object():
    # a closed string is a complete value; a half one is dropped with its key
    assert parse_json_object('{"a": {"b": [1, 2], "c": {"d": "x"') == {
        "a": {"b": [1, 2], "c": {"d": "x"}}
    }
    assert parse_json_object('{"a": {"b": [1, 2], "c": {"d": "x') == {"a": {"b": [1, 2], "c": {}}}


def test_truncated_before_any_key_violates_schema():
    with pytest.raises(ModelOutputError, match="missing required key 'named_entities'"):
        parse_json_object('{ "named_', NER)


def test_truncated_dangling_key_is_dropped():
    assert parse_json_object('{"a": 1, "b": ') == {"a": 1}
    assert parse_json_object('{"a": [true, false], "b"') == {"a": [True, False]}


def test_repair_can_be_disabled():
    with pytest.raises(ModelOutputError):
        parse_json_object('{"a": [1,]}', repair=False)
    with pytest.raises(ModelOutputError):
        parse_json_object('{"a": [1, 2', repair=False)


# -- rejected on purpose ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{'named_entities': ['Paris']}",
        '{"named_entities": ["Paris"], "ok": True}',
        '{"named_entities": None}',
        '{"x": NaN}',
        '{"x": Infinity}',
        '{"x": -Infinity}',
        '{"x": 1, // comment\n "y": 2}',
        '{"a": 1, "a": 2}',
        '{"a" 1}',
        '{"a": 01}',
    ],
)
def test_rejected(text):
    with pytest.raises(ModelOutputError):
        parse_json_object(text)


def test_python_literals_get_a_helpful_hint():
    with pytest.raises(ModelOutputError) as info:
        parse_json_object("{'named_entities': ['Paris'], 'done': True}")
    assert "Python" in str(info.value)
    assert "how to fix" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "{\"x\": __import__('os').system('echo pwned')}",
        '{"x": eval("1+1")}',
        "__import__('os').system('echo pwned')",
        '{"x": lambda: 1}',
    ],
)
def test_code_is_never_evaluated(text, capfd):
    with pytest.raises(ModelOutputError):
        parse_json_object(text)
    assert "pwned" not in capfd.readouterr().out


def test_code_inside_a_string_is_just_text():
    text = "{\"x\": \"__import__('os').system('rm -rf /')\"}"
    assert parse_json_object(text) == {"x": "__import__('os').system('rm -rf /')"}


def test_huge_nesting_is_rejected_without_recursion_error():
    text = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ModelOutputError, match="nests deeper"):
        parse_json_object(text)


def test_truncated_huge_nesting_is_rejected():
    with pytest.raises(ModelOutputError, match="nests deeper"):
        parse_json_object("{" + '"a": {' * 10_000)


def test_nesting_at_the_limit_is_fine():
    depth = MAX_DEPTH - 1  # the outer object is one level
    text = '{"a": ' + "[" * depth + "]" * depth + "}"
    assert "a" in parse_json_object(text)


def test_too_long_is_rejected():
    with pytest.raises(ModelOutputError, match="too long"):
        parse_json_object('{"a": "' + "x" * MAX_CHARS + '"}')


def test_many_unclosed_candidates_stay_fast():
    import time

    text = "{ " * 5_000  # nothing parses; must not be quadratic-per-candidate forever
    t0 = time.perf_counter()
    with pytest.raises(ModelOutputError):
        parse_json_object(text)
    assert time.perf_counter() - t0 < 5.0


# -- schema validation -------------------------------------------------------------------


def test_schema_missing_key():
    with pytest.raises(ModelOutputError, match="missing required key"):
        parse_json_object('{"entities": ["Paris"]}', NER)


def test_schema_additional_properties():
    with pytest.raises(ModelOutputError, match="unexpected key 'extra'"):
        parse_json_object('{"named_entities": [], "extra": 1}', NER)


def test_schema_wrong_item_type():
    with pytest.raises(ModelOutputError, match=r"\$\.named_entities\[1\]: expected string"):
        parse_json_object('{"named_entities": ["a", 2]}', NER)


def test_schema_error_lists_are_capped():
    with pytest.raises(ModelOutputError, match=r"\(\+5 more\)"):
        parse_json_object('{"named_entities": [1,2,3,4,5,6,7,8,9,10]}', NER)


@pytest.mark.parametrize(
    ("value", "schema", "ok"),
    [
        (1, {"type": "integer"}, True),
        (1.0, {"type": "integer"}, True),
        (1.5, {"type": "integer"}, False),
        (True, {"type": "integer"}, False),
        (True, {"type": "number"}, False),
        (2, {"type": "number"}, True),
        (None, {"type": "null"}, True),
        (None, {"type": ["string", "null"]}, True),
        ("x", {"type": "boolean"}, False),
        ([], {"type": "array", "minItems": 1}, False),
        ([1, 2, 3], {"type": "array", "maxItems": 2}, False),
        ("b", {"enum": ["a", "b"]}, True),
        ("c", {"enum": ["a", "b"]}, False),
        (1, {"enum": [True]}, False),
        (True, {"enum": [1]}, False),
        ("", {"type": "string", "minLength": 1}, False),
        ("abc", {"type": "string", "maxLength": 2}, False),
        ({"a": 1}, {"type": "object", "additionalProperties": {"type": "string"}}, False),
        ({"a": "x"}, {"type": "object", "additionalProperties": {"type": "string"}}, True),
        ({"a": 1}, {"type": "object", "title": "t", "description": "d"}, True),
    ],
)
def test_validate(value, schema, ok):
    assert (validate(value, schema) == []) is ok


def test_validate_nested_paths():
    errors = validate({"triples": [["a", "b"], ["a", "b", 3]]}, TRIPLES)
    assert errors == [
        "$.triples[0]: 2 items, expected at least 3",
        "$.triples[1][2]: expected string, got integer",
    ]


@pytest.mark.parametrize(
    "schema", [{"pattern": "x"}, {"oneOf": []}, {"type": "date"}, {"$ref": "#/a"}]
)
def test_unsupported_schema_keywords_raise(schema):
    with pytest.raises(ValueError, match="unsupported"):
        validate("x", schema)


def test_truncated_outer_object_never_yields_an_inner_one():
    with pytest.raises(ModelOutputError):
        parse_json_object('{"x": [{"named_entities": ["a"]}, {"named_', NER)


def test_long_truncated_output_is_repaired_quickly():
    import time

    items = ", ".join(f'["s{i}", "r{i}", "o{i}"]' for i in range(20_000))
    text = '{"triples": [' + items + ', ["cut'
    t0 = time.perf_counter()
    value = parse_json_object(text, {"type": "object"})
    assert len(value["triples"]) == 20_001
    assert value["triples"][-1] == []  # the cut triple is left empty for the caller to skip
    assert time.perf_counter() - t0 < 2.0

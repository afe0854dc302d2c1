"""gateway.jsonbody: the one reader of untrusted JSON, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import jsonbody
from gateway.errors import InvalidJson, MalformedRequest


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
        ('{"é": "ü"}'.encode(), {"é": "ü"}),
        (b'"\\ud83d\\ude00"', "\N{GRINNING FACE}"),  # a surrogate *pair* is one character
        (b"[]", []),
    ],
)
def test_loads_reads_plain_json(raw: bytes, expected: Any) -> None:
    assert jsonbody.loads(raw) == expected


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", MalformedRequest),
        (b"{not json", MalformedRequest),
        (b"\xff", MalformedRequest),
        (nested(33), InvalidJson),
        (nested(5_000), InvalidJson),
        (b'{"a": "\\udfff"}', InvalidJson),
        (b'{"a": "\\ud800x"}', InvalidJson),
        (b"-Infinity", InvalidJson),
        (b"1" * 5_000, InvalidJson),
    ],
)
def test_loads_refuses(raw: bytes, error: type[MalformedRequest]) -> None:
    with pytest.raises(error) as raised:
        jsonbody.loads(raw)

    assert type(raised.value) is error


def test_loads_accepts_exactly_max_depth(settings) -> None:
    assert jsonbody.loads(nested(settings.MAX_JSON_DEPTH))


def test_the_path_names_where_the_problem_is() -> None:
    with pytest.raises(InvalidJson) as raised:
        jsonbody.loads(b'{"a": [{"b": "ok"}, {"c\\u0000": 1}]}')

    assert raised.value.errors == [
        {"field": "a.1", "message": "has a key containing NUL (U+0000), which cannot be stored"}
    ]
    assert raised.value.detail == (
        "a.1: has a key containing NUL (U+0000), which cannot be stored."
    )


def test_a_problem_in_the_document_itself_names_no_field() -> None:
    with pytest.raises(InvalidJson) as raised:
        jsonbody.loads(b'"\\udfff"')

    assert raised.value.errors is None
    assert raised.value.detail == (
        "The body contains a lone surrogate (U+DFFF), which cannot be stored."
    )


def test_the_body_is_decoded_in_the_declared_charset() -> None:
    assert jsonbody.loads('{"a": "é"}'.encode("utf-16"), encoding="utf-16") == {"a": "é"}

"""The one JSON reader for untrusted bodies: parse, then refuse what must never reach the database.

`json.loads` alone accepts three things that end as a 500 further down: nesting deep enough to
exhaust the interpreter's stack (a `RecursionError`, here or in any later `json.dumps`), NUL
(U+0000) and lone surrogates (U+D800-U+DFFF), which PostgreSQL's `text` and `jsonb` cannot
store, and non-finite numbers (`NaN`, `Infinity`, `1e999`), which `jsonb` refuses. `loads()`
answers each with a 400 problem instead, naming the field where it can. Every reader of a
request or callback body goes through it: the DRF parser (`JsonBodyParser`), the
Idempotency-Key fingerprint and the operators' callback parsers.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers

from gateway import errors

# Characters PostgreSQL cannot hold in text or jsonb.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """What is wrong with `text` for PostgreSQL (`"NUL (U+0000)"`, …), or None if nothing."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    return "NUL (U+0000)" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"


def loads(raw: bytes | str, *, encoding: str = "utf-8") -> Any:
    """The parsed JSON document.

    Raises `errors.MalformedRequest` when `raw` is not JSON at all (or not in `encoding`), and
    `errors.InvalidJson` when it is JSON the gateway cannot accept: nested deeper than
    `MAX_JSON_DEPTH`, a string or key with NUL or a lone surrogate, a non-finite number.
    """
    limit: int = settings.MAX_JSON_DEPTH
    if isinstance(raw, bytes):
        try:
            raw = raw.decode(encoding)
        except UnicodeDecodeError:
            raise errors.MalformedRequest(f"The body is not valid {encoding}.") from None
    try:
        document = json.loads(raw)
    except RecursionError:
        raise errors.InvalidJson(_too_deep(limit)) from None
    except json.JSONDecodeError as exc:
        raise errors.MalformedRequest(
            f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError:  # an integer longer than Python agrees to convert
        raise errors.InvalidJson(
            f"A number has more than {sys.get_int_max_str_digits()} digits."
        ) from None
    _check(document, limit)
    return document


def _too_deep(limit: int) -> str:
    return f"The JSON is nested deeper than {limit} levels."


def _check(document: Any, limit: int) -> None:
    """Walk the parsed document without recursion: its depth is what is being checked."""
    stack: list[tuple[Any, tuple[str, ...], int]] = [(document, (), 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth + 1 > limit:
                raise errors.InvalidJson(_too_deep(limit), **_field(path, "nested too deep"))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and (problem := unstorable(key)):
                    message = f"has a key containing {problem}, which cannot be stored"
                    raise errors.InvalidJson(_detail(path, message), **_field(path, message))
                stack.append((child, (*path, str(key)), depth + 1))
        elif isinstance(node, str) and (problem := unstorable(node)):
            message = f"contains {problem}, which cannot be stored"
            raise errors.InvalidJson(_detail(path, message), **_field(path, message))
        elif isinstance(node, float) and not math.isfinite(node):
            message = "is not a finite number"
            raise errors.InvalidJson(_detail(path, message), **_field(path, message))


def _detail(path: tuple[str, ...], message: str) -> str:
    return f"{'.'.join(path)}: {message}." if path else f"The body {message}."


def _field(path: tuple[str, ...], message: str) -> dict[str, Any]:
    """`errors=[{field, message}]` as validation errors carry it, when there is a field."""
    if not path:
        return {}
    return {"errors": [{"field": ".".join(path), "message": message}]}


class JsonBodyParser(parsers.JSONParser):
    """DRF's JSON parser, reading through `loads()`."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        return loads(stream.read(), encoding=encoding)

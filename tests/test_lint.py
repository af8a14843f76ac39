"""The code stays as ruff wants it (lint and format) and as mypy types it, so that `uv run pytest` checks
everything CI checks (.ci/run runs the same commands first, for a quick verdict)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["snac_cli", "tests", "benchmarks", "examples"]


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is in the dev dependency group: uv sync installs it"
    return found


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", *PATHS], ["ruff", "format", "--check", *PATHS], ["mypy"]],
    ids=["lint", "format", "types"],
)
def test_the_checkers_pass(command):
    result = subprocess.run([tool(command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

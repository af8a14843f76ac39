"""Running `snac`: in this process (Typer's runner) or as a user would, in a process of its own; and the exit
codes by name (README, "Exit codes")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from snac_cli.cli import app
from snac_cli.cli.reporting import INTERNAL_ERROR, INTERRUPTED, TERMINATED
from snac_cli.errors import InputError, ModelError, OutputError, UsageError

OK = 0
USAGE = UsageError.exit_code
INPUT = InputError.exit_code
MODEL = ModelError.exit_code
OUTPUT = OutputError.exit_code
__all__ = ["INTERNAL_ERROR", "INTERRUPTED", "TERMINATED", "OK", "USAGE", "INPUT", "MODEL", "OUTPUT", "invoke", "snac"]

runner = CliRunner()


def invoke(*args: Any, stdin: str | bytes | None = None) -> Any:
    """`snac ARGS` in this process; arguments may be paths."""
    return runner.invoke(app, [str(a) for a in args], input=stdin)


def snac(
    *args: Any, stdin: bytes | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`snac ARGS` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "snac_cli", *map(str, args)], input=stdin, capture_output=True, cwd=cwd, timeout=timeout
    )

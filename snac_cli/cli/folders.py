"""Folder and list runs from the command line: which arguments make one, each worker's share of the cores,
and the run with its summary, warnings and failures said on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from snac_cli.cli.display import progress_bar
from snac_cli.cli.reporting import say
from snac_cli.cli.streams import binary_stdin
from snac_cli.errors import InputError, UsageError
from snac_cli.settings import RunSettings

if TYPE_CHECKING:
    from snac_cli.batch.runner import Task


def batch_arguments(input: str, output: str | None, files_from: str | None) -> tuple[bool, str | None, str]:
    """(many files?, input, output): a folder input or --files-from (whose one argument is the output
    folder) makes a batch run."""
    from snac_cli.batch.plan import AUDIO_SUFFIXES

    if files_from is not None:
        if output is not None:
            raise UsageError("with --files-from, give only the output folder")
        if input == "-":
            raise UsageError("with --files-from, the one argument is the output folder, not - (stdout)")
        return True, None, input
    if output is None:
        raise UsageError("missing the OUTPUT argument")
    many = Path(input).is_dir()
    if many and (output == "-" or Path(output).suffix.lower() in (".snac", *AUDIO_SUFFIXES)):
        raise UsageError(f"{input} is a folder: OUTPUT must be a folder too, not {output}")
    return many, input, output


def threads_per_job(jobs: int) -> int | None:
    """Each worker's share of the cores, so that workers do not fight over them."""
    import os

    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def run_folder(task: Task, *, input: str | None, output: str, files_from: str | None, run: RunSettings) -> None:
    """A folder or list run, its summary, warnings and failures said on stderr."""
    from snac_cli.batch.runner import run_batch

    records = run_batch(
        task, input=input, output=output, files_from=files_from,
        stdin=binary_stdin() if files_from == "-" else (), run=run,
        progress=progress_bar(run.quiet), on_summary=None if run.quiet else say,
    )  # fmt: skip
    for record in [r for r in records if r.status == "ignored"][:10]:
        say(f"warning: ignored {record.input}: {record.error}")
    failures = [r for r in records if r.status == "failed"]
    for record in failures[:10]:
        named = any(name in str(record.error) for name in (record.input, record.output))
        say(f"failed: {record.error}" if named else f"failed: {record.input}: {record.error}")
    if failures:
        raise InputError(f"{len(failures)} of {len(records)} files failed (see the manifest)")

"""Tables from the command line: `snac encode DATA OUT.parquet`, and a row of such a table read back."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from snac_cli.cli.display import progress_bar
from snac_cli.cli.reporting import say
from snac_cli.errors import InputError, UsageError
from snac_cli.settings import EncodeSettings, ModelSettings, RunSettings, TableSettings, TokenSettings
from snac_cli.tables import KINDS

AudioColumn = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="A table's audio column: structs of bytes and path (Hugging Face Audio), "
                 "paths or bytes [default: audio, or audio_filepath]."),
]  # fmt: skip
KeepAudio = Annotated[bool, typer.Option(help="Keep a table's audio column in the output table.")]
PartRows = Annotated[int, typer.Option(min=1, max=1 << 30, metavar="N", help="Rows per part file of an output table.")]
Row = Annotated[
    str | None,
    typer.Option(metavar="N|COLUMN=VALUE", help="The row of a table (OUT.parquet) to read: its number, from 0, or "
                 "the first whose COLUMN is VALUE."),
]  # fmt: skip


def table_run(input: str, output: str | None) -> bool:
    """Whether these arguments encode a table: a .parquet output, or a table (or folder of Parquet) input."""
    if output is not None and output.lower().endswith(".parquet"):
        return True
    if Path(input).suffix.lower() in KINDS and not Path(input).is_dir():
        raise UsageError(f"{input} is a table: encode it into a table, OUTPUT.parquet")
    return False


def encode_table_command(
    input: str, output: str, *, settings: EncodeSettings, model: ModelSettings, tokens: TokenSettings,
    table: TableSettings, run: RunSettings,
) -> None:  # fmt: skip
    """Encode a table's rows into an output table; failed rows exit 3 at the end, as a folder run's files do."""
    from snac_cli.cli.folders import threads_per_job
    from snac_cli.tables.rows import RowEncoder
    from snac_cli.tables.run import encode_table

    # Named, never torch's default: thread counts change float rounding, and so, rarely, a code; they are in the
    # table's layout, so that a run resumes another (local or on Ray, each worker with the same share) only
    # where the codes would be the same.
    threads = model.threads or threads_per_job(run.jobs) or os.cpu_count() or 1
    encoder = RowEncoder(settings, replace(model, threads=threads), tokens, run.batch_seconds)
    report = encode_table(input, output, encoder, table, jobs=run.jobs, ray=run.ray, force=run.force,
                          progress=progress_bar(run.quiet))  # fmt: skip
    if not run.quiet:
        say(report.summary(output))
    if report.failed:
        raise InputError(f"{report.failed:,} of {report.rows:,} rows failed (see the error column of {output})")


def is_table(path: str) -> bool:
    """Whether an input names a table snac wrote (read a row of it with --row)."""
    return path.lower().rstrip("/").endswith(".parquet")


def row_input(path: str, row: str | None) -> contextlib.AbstractContextManager[BinaryIO]:
    """A row of a table as a `.snac` file in memory, opened as `binary_input` opens a file, for decoding."""
    from snac_cli.format.container import to_bytes
    from snac_cli.tables.readback import row_snac

    assert row is not None  # check_row said so
    return contextlib.nullcontext(io.BytesIO(to_bytes(row_snac(path, row))))

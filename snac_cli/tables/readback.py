"""A row of a table snac wrote, read back: its codes as a `.snac` file (`snac decode OUT.parquet --row N`,
`snac import`), found by its number or by a key column's value."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from snac_cli import __version__
from snac_cli.errors import InputError, UsageError
from snac_cli.format.header import SnacFile
from snac_cli.tables.columns import row_codes
from snac_cli.tables.parts import table_layout
from snac_cli.tables.sources import parquet_files


def find_row(path: Path, row: str) -> dict[str, Any]:
    """The row numbered `row` (from 0), or the first whose column has the value (`COLUMN=VALUE`)."""
    files = parquet_files(path) if path.is_dir() else [path]
    table = ds.dataset([str(f) for f in files], format="parquet")
    column, equals, value = row.partition("=")
    if not equals:
        try:
            number = int(row)
        except ValueError:
            raise UsageError(f"--row {row}: give a row number, or COLUMN=VALUE") from None
        if not 0 <= number < table.count_rows():
            raise UsageError(
                f"--row {number}: the table has {table.count_rows():,} rows (0 to {table.count_rows() - 1:,})"
            )
        return table.take([number]).to_pylist()[0]
    if column not in table.schema.names:
        raise UsageError(f"--row {row}: no column {column!r} in {path}")
    for batch in table.to_batches():
        for record in batch.to_pylist():
            if str(record.get(column)) == value:
                return record
    raise UsageError(f"--row {row}: no row has {column} = {value}")


def row_snac(path: str, row: str) -> SnacFile:
    """A row's codes as the `.snac` file `snac encode` would have written for its audio."""
    table = Path(path)
    if not table.exists():
        raise InputError(f"{path}: no such file or folder")
    layout = table_layout(table)
    record = find_row(table, row)
    if record.get("error") is not None:
        raise InputError(f"{path}: row {row} failed to encode ({record['error']})")
    model = layout["model"]
    strides = tuple(int(s) for s in model["vq_strides"])
    try:
        codes = row_codes(record, len(strides))
        rate, seconds = int(record["sample_rate"]), float(record["seconds"])
        snac = SnacFile(
            model=model["name"], fingerprint=model["fingerprint"], sample_rate=int(model["sample_rate"]),
            original_sample_rate=rate, original_channels=int(record["channels"]),
            channels=codes[0].shape[0], codebook_size=int(model["codebook_size"]), vq_strides=strides,
            gain=float(record["gain"]), tool_version=__version__,
            original_length=round(seconds * rate), codes=codes,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: row {row} is not a row snac wrote ({e})") from None
    if not math.isfinite(snac.gain) or snac.gain <= 0:
        raise InputError(f"{path}: row {row} has a gain of {snac.gain}")
    return snac

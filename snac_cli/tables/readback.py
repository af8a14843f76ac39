"""A row of a table snac wrote, read back: its codes as a `.snac` file (`snac decode OUT.parquet --row N`,
`snac import`), found by its number or by a key column's value."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from snac_cli import __version__
from snac_cli.errors import ContainerError, InputError, UsageError, one_line
from snac_cli.format.container import read_snac, to_bytes
from snac_cli.format.header import SnacFile
from snac_cli.tables.columns import row_codes
from snac_cli.tables.parts import table_layout
from snac_cli.tables.sources import parquet_file, parquet_files


def find_row(path: Path, row: str) -> dict[str, Any]:
    """The row numbered `row` (from 0), or the first whose column has the value (`COLUMN=VALUE`). One part is
    read at most, and for a value only its column: the codes of the rows passed over are never read."""
    files = parquet_files(path) if path.is_dir() else [path]
    try:
        file, index = row_place(files, path, row)
        with parquet_file(file) as part:
            return part.read().slice(index, 1).to_pylist()[0]
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{path}: not a readable Parquet table ({one_line(e)})") from None


def row_place(files: list[Path], path: Path, row: str) -> tuple[Path, int]:
    """The file that holds the row `--row` names, and its index there: by number, or the first COLUMN=VALUE."""
    column, equals, value = row.partition("=")
    number = None
    if not equals:
        if not re.fullmatch(r"-?[0-9]+", row):  # int() would take 1_0 and full-width digits too
            raise UsageError(f"--row {row}: give a row number, or COLUMN=VALUE")
        number = int(row)
    seen = 0
    for file in files:
        with parquet_file(file) as part:
            if number is not None:
                if 0 <= number - seen < part.metadata.num_rows:
                    return file, number - seen
                seen += part.metadata.num_rows
                continue
            if column not in part.schema_arrow.names:
                raise UsageError(f"--row {row}: no column {column!r} in {path}")
            values = part.read(columns=[column]).column(0)
        try:
            found = pc.index(pc.cast(values, pa.string()), value).as_py()
        except pa.ArrowException:
            raise UsageError(f"--row {row}: column {column!r} holds {values.type}, not values to match") from None
        if found >= 0:
            return file, found
        seen += len(values)
    if number is not None:
        span = f"0 to {seen - 1:,}" if seen else "none"
        raise UsageError(f"--row {number}: the table has {seen:,} rows ({span})")
    raise UsageError(f"--row {row}: no row has {column} = {value}")


def row_snac(path: str, row: str) -> SnacFile:
    """A row's codes as the `.snac` file `snac encode` would have written for its audio. Nothing of the table
    is trusted: a field of the wrong type, a length out of range, is the table's error, in one line."""
    table = Path(path)
    if not table.exists():
        raise InputError(f"{path}: no such file or folder")
    layout = table_layout(table)
    record = find_row(table, row)
    if record.get("error") is not None:
        raise InputError(f"{path}: row {row} failed to encode ({record['error']})")
    try:
        model = layout["model"]
        strides = tuple(int(s) for s in model["vq_strides"])
        codes = row_codes(record, len(strides))
        rate, seconds = number(record, "sample_rate", int), number(record, "seconds", float)
        gain = number(record, "gain", float)
        if not math.isfinite(gain) or gain <= 0:
            raise ValueError(f"a gain of {gain}")
        snac = SnacFile(
            model=str(model["name"]), fingerprint=str(model["fingerprint"]), sample_rate=int(model["sample_rate"]),
            original_sample_rate=int(rate), original_channels=int(number(record, "channels", int)),
            channels=codes[0].shape[0], codebook_size=int(model["codebook_size"]), vq_strides=strides,
            gain=gain, tool_version=__version__, original_length=round(seconds * rate), codes=codes,
        )  # fmt: skip
        return read_snac(to_bytes(snac))  # what the format itself accepts, its header's bounds and the codes' ranges
    except (KeyError, TypeError, ValueError, OverflowError, ContainerError) as e:
        raise InputError(f"{path}: row {row} is not a row snac wrote ({one_line(e)})") from None


def number(record: dict[str, Any], name: str, kind: type) -> float:
    """A row's field of a number type (an integer for `int`), not text or a flag that would convert."""
    value = record.get(name)
    allowed = (int,) if kind is int else (int, float)
    if type(value) is bool or not isinstance(value, allowed):
        raise ValueError(f"its {name} is {str(value)[:40]!r}, not a number")
    return value

"""The columns of a table run, as Arrow holds them: each row's audio read from its input column, the columns
the output adds, and a row of an output read back as a `.snac` file's codes. Numpy and pyarrow only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from snac_cli.tables.rows import Clip, Encoded
from snac_cli.tables.sources import line_errors

ADDED = ("tokens", "seconds", "sample_rate", "channels", "gain", "error")  # after codes_0, codes_1, ...


def clips_of(batch: pa.RecordBatch | pa.Table, audio: str, base: Path, numbers: Sequence[int]) -> list[Clip]:
    """Each row's audio: a {bytes, path} struct as `datasets` writes its Audio feature (bytes in any format
    `snac encode` reads; a row without bytes reads its path, relative to `base`), a path, or bytes. `numbers`
    are the rows' numbers in the table, which name them in errors."""
    values = batch.column(audio).to_pylist()
    errors = line_errors(batch.schema)
    from_lines = batch.column(errors).to_pylist() if errors else [None] * len(values)
    clips = []
    for number, value, line_error in zip(numbers, values, from_lines, strict=True):
        row = f"row {number:,}"
        data, path = (value.get("bytes"), value.get("path")) if isinstance(value, dict) else (None, value)
        if isinstance(path, bytes) and data is None:  # a column of bytes
            data, path = path, None
        name = f"{row} ({path})" if isinstance(path, str) and path else row
        if line_error is not None:
            clips.append(Clip(row, error=f"{row}: {line_error}"))
        elif data is not None:
            clips.append(Clip(name, data=bytes(data)))
        elif isinstance(path, str) and path:
            clips.append(Clip(name, path=str(base / path)))  # an absolute path stays as it is
        else:
            clips.append(Clip(row, error=f"{row}: no audio (neither bytes nor a path)"))
    return clips


def nested(arrays: list[np.ndarray | None], kind: pa.DataType) -> pa.Array:
    """2-D arrays (rows of one length each) as one list<list<kind>> column, None as null: built from offsets,
    with no Python object per value."""
    lengths: list[int] = []
    outer = [0]
    values = []
    for a in arrays:
        if a is not None:
            lengths += [a.shape[1]] * a.shape[0]
            values.append(a.reshape(-1))
        outer.append(len(lengths))
    inner_offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32)
    flat = np.concatenate(values) if values else np.zeros(0, kind.to_pandas_dtype())
    inner = pa.ListArray.from_arrays(pa.array(inner_offsets, pa.int32()), pa.array(flat, type=kind))
    mask = pa.array([a is None for a in arrays], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(outer, pa.int32()), inner, mask=mask)


def output_columns(scales: int) -> list[pa.Field]:
    """The columns a table run adds, after the input's."""
    codes = [pa.field(f"codes_{i}", pa.list_(pa.list_(pa.int32()))) for i in range(scales)]
    return codes + [
        pa.field("tokens", pa.list_(pa.list_(pa.int64()))),  # per channel, `snac export --format tokens`' order
        pa.field("seconds", pa.float64()),  # the original's duration
        pa.field("sample_rate", pa.int32()),  # the original's
        pa.field("channels", pa.int32()),  # the original's (decoding gives them back)
        pa.field("gain", pa.float64()),  # what normalizing multiplied the audio by; decoding divides by it
        pa.field("error", pa.string()),  # null when the row worked
    ]


def kept_columns(schema: pa.Schema, audio: str, keep_audio: bool) -> list[str]:
    """The input's columns the output keeps: all but the audio (unless kept)."""
    return [n for n in schema.names if n != line_errors(schema) and (keep_audio or n != audio)]


def clashes(schema: pa.Schema, audio: str, keep_audio: bool, scales: int) -> list[str]:
    """Input columns the output would add again (a table that snac wrote, say)."""
    added = {f.name for f in output_columns(scales)}
    return [n for n in kept_columns(schema, audio, keep_audio) if n in added]


def output_table(
    batch: pa.RecordBatch | pa.Table, results: list[Encoded | str], *, audio: str, keep_audio: bool, scales: int
) -> pa.Table:
    """The output rows of a batch: its kept columns, then the codes, tokens and facts of each row's audio."""
    kept = kept_columns(batch.schema, audio, keep_audio)
    ok = [r if isinstance(r, Encoded) else None for r in results]
    fields = output_columns(scales)
    columns = [nested([r.codes[i] if r else None for r in ok], pa.int32()) for i in range(scales)]
    columns += [
        nested([r.tokens if r else None for r in ok], pa.int64()),
        pa.array([r.seconds if r else None for r in ok], pa.float64()),
        pa.array([r.sample_rate if r else None for r in ok], pa.int32()),
        pa.array([r.channels if r else None for r in ok], pa.int32()),
        pa.array([r.gain if r else None for r in ok], pa.float64()),
        pa.array([None if isinstance(r, Encoded) else r for r in results], pa.string()),
    ]
    schema = pa.schema([batch.schema.field(n) for n in kept] + fields)
    return pa.Table.from_arrays([batch.column(n) for n in kept] + columns, schema=schema)


def row_codes(row: dict[str, object], scales: int) -> list[np.ndarray]:
    """A row's codes per scale, (channels, n_i) int64, as a `.snac` file holds them."""
    codes = []
    for i in range(scales):
        value = row.get(f"codes_{i}")
        if not isinstance(value, list) or not value:
            raise ValueError(f"its codes_{i} is {'missing' if value is None else 'empty'}")
        try:
            array = np.array(value)
        except ValueError:  # ragged
            array = np.array(None)
        if array.ndim != 2:
            raise ValueError(f"its codes_{i} are not one list per channel of one length")
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"its codes_{i} are {array.dtype} values, not integers")
        codes.append(array.astype(np.int64))
    return codes

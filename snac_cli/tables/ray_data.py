"""A table run on Ray Data (`snac encode DATA OUT.parquet --ray[=ADDRESS]`): Ray's workers read the input
(each a Parquet row group at a time; a manifest or CSV is read here, as a local run reads it, and handed to
Ray as Arrow) and encode its rows with the local run's own code; this process takes the output rows back in
order (codes only, never the audio) and writes the parts, so the table is the local run's: the same rows,
numbers, parts, layout and resume. Every node must see DATA and the rows' paths under the same names."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from snac_cli.errors import InputError, UsageError, one_line
from snac_cli.settings import TableSettings
from snac_cli.tables.columns import clips_of, output_table
from snac_cli.tables.rows import RowEncoder
from snac_cli.tables.run import CHUNK_ROWS, audio_bytes, cut
from snac_cli.tables.sources import Table, parquet_file

ROW = "__snac_row"  # each input row's number, which names it in errors (Ray Data numbers no rows itself)
SIZE = "__snac_audio_bytes"  # each row's input audio bytes, by which this process cuts the parts
HANDED_ROWS = 4096  # rows of a manifest or CSV per block handed to Ray


@dataclasses.dataclass(frozen=True)
class RowGroups:
    """Ray's read of a Parquet table (`map_batches`): items naming a row group (`file` as bytes, any name the
    system has; `group`; `first`, its first row's number) -> its rows, numbered, as a local run reads them."""

    schema: pa.Schema  # the table's, one for all its files

    def __call__(self, batch: pa.Table) -> pa.Table:
        tables = []
        for file, group, first in zip(*(batch.column(n).to_pylist() for n in ("file", "group", "first")), strict=True):
            with parquet_file(Path(os.fsdecode(file))) as reader:
                rows = pa.Table.from_arrays(reader.read_row_group(group).columns, schema=self.schema)
            tables.append(rows.append_column(ROW, pa.array(range(first, first + rows.num_rows), pa.int64())))
        return pa.concat_tables(tables)


@dataclasses.dataclass(frozen=True)
class TableRows:
    """What each Ray worker runs (`map_batches`, pyarrow batches): numbered input rows -> their output rows,
    as a local run makes them, each with its audio's bytes; rows before `skip` (already written) are dropped."""

    encoder: RowEncoder
    schema: pa.Schema  # the input's, as the local run reads it (Ray may drop its fields' metadata)
    audio: str
    base: Path
    keep_audio: bool
    scales: int
    skip: int

    def __call__(self, batch: pa.Table) -> pa.Table:
        numbers = batch.column(ROW).to_numpy()
        keep = numbers >= self.skip
        batch = batch.filter(pa.array(keep))
        rows = batch.select(self.schema.names).cast(self.schema)
        clips = clips_of(rows, self.audio, self.base, numbers[keep].tolist())
        out = output_table(rows, self.encoder(clips), audio=self.audio, keep_audio=self.keep_audio,
                           scales=self.scales)  # fmt: skip
        return out.append_column(SIZE, pa.array(audio_bytes(rows, self.audio), pa.int64()))


def ray_parts(
    table: Table, encoder: RowEncoder, settings: TableSettings, done: int, *, scales: int, address: str,
    concurrency: int, advance: Callable[[int], None],
) -> Generator[pa.Table, None, None]:  # fmt: skip
    """The output parts after row `done`, encoded by `concurrency` Ray workers, in row order (Ray started by
    `start`)."""
    import ray

    from snac_cli.batch.ray_data import reserved_cpus

    if done == table.rows:
        return
    threads = encoder.model.threads or os.cpu_count() or 1
    work = TableRows(encoder, table.schema, table.audio, table.base.resolve(), settings.keep_audio, scales, done)
    encoded = numbered(ray, table, done).map_batches(
        work, batch_format="pyarrow", batch_size=CHUNK_ROWS, compute=ray.data.TaskPoolStrategy(size=concurrency),
        num_cpus=reserved_cpus(ray, threads, concurrency), num_gpus=1 if encoder.model.device.startswith("cuda") else 0,
    )  # fmt: skip

    def received() -> Iterator[pa.Table]:
        try:
            for batch in encoded.iter_batches(batch_format="pyarrow", batch_size=None):
                advance(batch.num_rows)
                yield batch
        except ray.exceptions.RayError as e:
            raise InputError(f"{table.path}: Ray Data failed: {one_line(e)[:500]}") from None

    for held in cut(received(), lambda batch: batch.column(SIZE).to_numpy(), settings.part_rows):
        yield pa.concat_tables(held).drop_columns([SIZE])


def start(address: str) -> None:
    """Start Ray ("local": a Ray of this machine) or join the cluster at `address`, before anything is
    written: a Ray that cannot be had leaves no output behind."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray Data: pip install 'snac-cli[ray]'") from None
    from snac_cli.batch.ray_data import connect

    connect(ray, None if address == "local" else address)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # the rows come back in the table's order


def numbered(ray: Any, table: Table, done: int) -> Any:
    """The table's rows from the part that begins at row `done`, numbered, as a Ray dataset in order: a
    Parquet table's row groups read by Ray's workers; a manifest or CSV handed over in blocks."""
    if table.kind == "parquet":
        groups, first = [], 0
        for file in table.files:
            with parquet_file(file) as reader:
                sizes = [reader.metadata.row_group(g).num_rows for g in range(reader.metadata.num_row_groups)]
            for group, rows in enumerate(sizes):
                if first + rows > done:
                    groups.append({"file": os.fsencode(file.resolve()), "group": group, "first": first})
                first += rows
        return ray.data.from_items(groups).map_batches(RowGroups(table.schema), batch_format="pyarrow", batch_size=1)
    blocks, first = [], 0
    for held in cut(table.batches(), lambda batch: np.zeros(batch.num_rows), HANDED_ROWS):  # rows alone count
        rows = sum(batch.num_rows for batch in held)
        if first + rows > done:  # not written already
            blocks.append(block(held, table.schema, first))
        first += rows
    return ray.data.from_arrow(blocks or [block([], table.schema, first)])


def block(batches: list[pa.RecordBatch], schema: pa.Schema, first: int) -> pa.Table:
    """Rows of a manifest or CSV, numbered from `first`."""
    rows = pa.Table.from_batches(batches, schema=schema)
    return rows.append_column(ROW, pa.array(range(first, first + rows.num_rows), pa.int64()))

"""A table run from start to end: open and check the input, resume after the parts already written, encode
the rest part by part (in this process or worker processes), mark the table complete."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snac_cli.errors import UsageError
from snac_cli.format.tokens import counted
from snac_cli.progress import Progress, silent
from snac_cli.settings import DEFAULT_MODEL, TableSettings
from snac_cli.tables.columns import clashes, clips_of, output_table
from snac_cli.tables.parts import Parts
from snac_cli.tables.rows import Clip, Encoded, RowEncoder
from snac_cli.tables.sources import Table, open_table, parquet_file

PART_BYTES = 128 << 20  # input audio bytes per part at most (memory: a part's rows are held until written)
CHUNK_ROWS = 32  # rows handed to a worker at once
Batch = TypeVar("Batch", pa.RecordBatch, pa.Table)


@dataclass
class TableReport:
    """What a table run did: rows in the table, rows encoded now, rows that failed, audio seconds encoded."""

    rows: int
    encoded: int
    failed: int
    seconds: float
    elapsed: float

    def summary(self, output: str) -> str:
        resumed = self.rows - self.encoded
        done = f"encoded {counted(self.encoded, 'row')} ({self.seconds / 3600:.2f} h of audio) in {self.elapsed:.1f} s"
        rest = f", {resumed:,} already done" if resumed else ""
        failed = f", {self.failed:,} failed" if self.failed else ""
        return f"{done}{rest}{failed}: {output}"


def layout(table: Table, encoder: RowEncoder, settings: TableSettings) -> dict[str, Any]:
    """What the output was made from and how: read back by `snac decode --row`, checked by a resumed run."""
    from snac_cli.codec.models import header_for
    from snac_cli.format.tokens import frame_order
    from snac_cli.naming import model_id

    name = encoder.model.name or DEFAULT_MODEL
    header, _ = header_for(name, channels=1)
    return {
        "model": {"name": model_id(name), "fingerprint": header.fingerprint, "sample_rate": header.sample_rate,
                  "codebook_size": header.codebook_size, "vq_strides": list(header.vq_strides)},
        "tokens": {"offsets": encoder.tokens.offsets.value, "base": encoder.tokens.base,
                   "order": [list(p) for p in frame_order(header.vq_strides)]},
        # The threads too: their count changes float rounding, and so, rarely, a code whose nearest codebook
        # entries are all but tied (seen with --jobs 1 against 2): a resumed run with others redoes the table.
        "encode": {"channels": encoder.settings.channels.value, "normalize": encoder.settings.normalize.value,
                   "precision": encoder.model.precision.value, "threads": encoder.model.threads},
        "table": {"audio_column": table.audio, "keep_audio": settings.keep_audio, "part_rows": settings.part_rows,
                  "part_bytes": PART_BYTES, "source": table.stamp()},
    }  # fmt: skip


def audio_bytes(batch: pa.RecordBatch, audio: str) -> np.ndarray:
    """Bytes of audio in each row of a batch (0 for a path): what bounds a part's memory."""
    column = batch.column(audio)
    if pa.types.is_struct(column.type):
        names = [column.type.field(i).name for i in range(column.type.num_fields)]
        column = pc.struct_field(column, "bytes") if "bytes" in names else None
    if column is None or not (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
        return np.zeros(batch.num_rows, dtype=np.int64)
    return np.asarray(pc.fill_null(pc.binary_length(column), 0).to_numpy(zero_copy_only=False), dtype=np.int64)


def cut(batches: Iterable[Batch], sizes: Callable[[Batch], np.ndarray], part_rows: int) -> Iterator[list[Batch]]:
    """Batches of rows regrouped into parts, as slices: a part ends at `part_rows` rows, or once it holds
    PART_BYTES of input audio (`sizes`: each row's bytes). Every run cuts by this rule, from the table's first
    row or from a part's, so a run resumed any way (locally, on Ray) finds the parts it left."""
    held: list[Batch] = []
    rows = size = 0
    for batch in batches:
        sizes_of = sizes(batch)
        start = 0
        for i in range(batch.num_rows):
            rows, size = rows + 1, size + int(sizes_of[i])
            if rows == part_rows or size >= PART_BYTES:
                held.append(batch.slice(start, i + 1 - start))
                yield held
                held, rows, size, start = [], 0, 0, i + 1
        if start < batch.num_rows:
            held.append(batch.slice(start))
    if held:
        yield held


def pieces(table: Table, part_rows: int, skip: int) -> Iterator[pa.Table]:
    """The input in parts, the same parts on every run (a resumed run reads from the start, encoding only
    from row `skip`, a part's first row; the last part too, unless a killed run wrote it before its marker)."""
    first = 0
    for held in cut(table.batches(), lambda batch: audio_bytes(batch, table.audio), part_rows):
        if first >= skip:
            yield pa.Table.from_batches(held, schema=table.schema)
        first += sum(batch.num_rows for batch in held)


def encode_table(
    data: str,
    output: str,
    encoder: RowEncoder,
    settings: TableSettings = TableSettings(),
    *,
    jobs: int = 1,
    ray: str | None = None,
    force: bool = False,
    progress: Progress = silent,
) -> TableReport:
    """Encode every row of the table DATA into the table `output` (a folder of Parquet parts): its columns
    kept, the codes and tokens of each row's audio added, a row that fails saying why in `error`. The rows
    are encoded here or by `jobs` worker processes, or on Ray Data (`ray`: "local", or a cluster's address)."""
    started = time.perf_counter()
    table = open_table(data, settings.audio_column)
    if same_or_inside(Path(output), table.path):
        raise UsageError(f"{output}: the output may not be the input, nor inside it")
    layout_of = layout(table, encoder, settings)
    scales = len(layout_of["model"]["vq_strides"])
    taken = clashes(table.schema, table.audio, settings.keep_audio, scales)
    if taken:
        raise UsageError(f"{data}: already has a column {taken[0]!r}, which the output adds (a table snac wrote?)")
    parts = Parts(Path(output), layout_of, force=force)
    finished = parts.finished()
    if finished is not None:
        return TableReport(table.rows, 0, int(finished.get("failed", 0)), 0.0, time.perf_counter() - started)
    if ray is not None:
        from snac_cli.tables.ray_data import ray_parts, start

        start(ray)
    try:
        done = parts.prepare()
        failed, seconds = sum(earlier_failures(parts.folder, list(parts.names))), 0.0
        with progress("encoding", table.rows, "rows") as advance:
            advance(done)
            if ray is None:
                made = local_parts(table, encoder, settings, done, scales=scales, jobs=jobs, advance=advance)
            else:
                made = ray_parts(table, encoder, settings, done, scales=scales, address=ray, concurrency=jobs,
                                 advance=advance)  # fmt: skip
            with closing(made):  # however the loop ends, the workers are stopped
                for part in made:
                    parts.write(part)
                    failed += part.num_rows - part.column("error").null_count
                    seconds += pc.sum(part.column("seconds")).as_py() or 0.0
        if not parts.names:  # an empty table is still a table, with its columns, that readers can open
            parts.write(output_table(table.schema.empty_table(), [], audio=table.audio,
                                     keep_audio=settings.keep_audio, scales=scales))  # fmt: skip
        parts.finish(failed)
    finally:
        parts.close()
    return TableReport(table.rows, table.rows - done, failed, seconds, time.perf_counter() - started)


def local_parts(
    table: Table, encoder: RowEncoder, settings: TableSettings, done: int, *, scales: int, jobs: int,
    advance: Callable[[int], None],
) -> Generator[pa.Table, None, None]:  # fmt: skip
    """The output parts after row `done`, encoded in this process or in `jobs` worker processes."""
    first = done
    with workers(encoder, jobs) as run:
        for piece in pieces(table, settings.part_rows, done):
            starts = range(first, first + piece.num_rows, CHUNK_ROWS)
            chunks = [piece.slice(start - first, CHUNK_ROWS) for start in starts]
            clips = [clips_of(chunk, table.audio, table.base, range(start, start + chunk.num_rows))
                     for start, chunk in zip(starts, chunks, strict=True)]  # fmt: skip
            outputs = []
            for chunk, results in zip(chunks, run(clips), strict=True):
                outputs.append(output_table(chunk, results, audio=table.audio, keep_audio=settings.keep_audio,
                                            scales=scales))  # fmt: skip
                advance(chunk.num_rows)
            first += piece.num_rows
            yield pa.concat_tables(outputs)


def earlier_failures(folder: Path, names: list[str]) -> Iterator[int]:
    """The failed rows of the parts a killed run left (counted again for the summary and the exit code)."""
    for name in names:
        with parquet_file(folder / name) as part:
            errors = part.read(columns=["error"]).column("error")
        yield len(errors) - errors.null_count


def same_or_inside(output: Path, data: Path) -> bool:
    """Whether the output is the input, or inside the input's folder (where its parts would be read back)."""
    out, source = output.resolve(), data.resolve()
    return out == source or (source.is_dir() and source in out.parents)


@contextmanager
def workers(encoder: RowEncoder, jobs: int) -> Iterator[Callable[[list[list[Clip]]], Iterator[list[Encoded | str]]]]:
    """Runs the encoder on chunks of clips, in this process or in `jobs` worker processes, results in order."""
    if jobs <= 1:
        yield lambda chunks: (encoder(c) for c in chunks)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from snac_cli.batch.workers import spawning_without_sigpipe

    with spawning_without_sigpipe():  # as a folder run's: a dead worker's pipe is an error, not the run's end
        pool = ProcessPoolExecutor(jobs, multiprocessing.get_context("spawn"), initializer=ignore_sigint)
        try:
            yield lambda chunks: pool.map(encoder, chunks)
        except BaseException:  # stopped mid-run: the work in flight is not waited for. The executor has no
            # public way to end busy workers before Python 3.14 (terminate_workers): its own table of them.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def ignore_sigint() -> None:
    """Workers leave Ctrl-C (sent to the whole process group) to the run, which stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

"""The tables `snac encode DATA OUT.parquet` reads: Parquet (one file, or a folder of them, as Hugging Face
`datasets` exports), a JSONL manifest (NeMo, Lhotse) or a CSV with a header, opened and checked whole before
any work, then read as Arrow record batches: never the whole table in memory (pyarrow)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from snac_cli.errors import InputError, one_line
from snac_cli.format.export import json_value
from snac_cli.tables import KINDS

AUDIO_COLUMNS = ("audio", "audio_filepath")  # Hugging Face datasets' Audio feature; NeMo's manifest field
READ_ROWS = 64  # rows per record batch read
MANIFEST_LINES = 4096  # manifest lines parsed at once, to learn its columns' types


@dataclass
class Table:
    """An input table: where it is, its files in row order, its columns and row count, the audio column."""

    path: Path
    kind: str  # parquet, jsonl or csv
    files: list[Path]
    schema: pa.Schema  # its columns, as every batch has them
    rows: int
    audio: str  # the column that holds the audio

    @property
    def base(self) -> Path:
        """What the relative paths of its rows are relative to: DATA's folder, or DATA when it is one."""
        return self.path if self.path.is_dir() else self.path.parent

    def stamp(self) -> list[list[object]]:
        """What it was read from (name, size, mtime of each file): a resumed run checks it has not changed."""
        stats = [(f, f.stat()) for f in self.files]
        return [[str(f.relative_to(self.base)), s.st_size, s.st_mtime_ns] for f, s in stats]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Its rows in order, a record batch of at most READ_ROWS rows at a time."""
        for file in self.files:
            if self.kind == "parquet":
                with parquet_file(file) as reader:
                    for batch in reader.iter_batches(batch_size=READ_ROWS):
                        yield pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
            elif self.kind == "csv":
                yield from csv_reader(file, self.schema.names)
            else:
                yield from manifest_batches(file, self.schema)


def open_table(data: str, audio_column: str | None) -> Table:
    """Open DATA and check it through: every file readable, one set of columns, an audio column of a usable
    type. Each way it fails is one line (InputError), before any row is encoded."""
    path = Path(data)
    if not path.exists():
        raise InputError(f"{data}: no such file or folder")
    if path.is_dir():
        files, kind = parquet_files(path), "parquet"
    else:
        kind = KINDS.get(path.suffix.lower(), "")
        if not kind:
            raise InputError(f"{data}: not a table (Parquet, .jsonl manifest or .csv)")
        files = [path]
    if kind == "parquet":
        schema, rows = parquet_schema(files)
    elif kind == "csv":
        schema, rows = csv_schema(path)
    else:
        schema, rows = manifest_schema(path)
    return Table(path, kind, files, schema, rows, audio_of(schema, audio_column, data))


def parquet_files(folder: Path) -> list[Path]:
    """A folder's Parquet files, in the order its rows are read: every `*.parquet` below it, sorted, but those
    that Parquet readers skip (under a name that starts with . or _: _SUCCESS, .part files)."""
    files = sorted(f for f in folder.rglob("*.parquet")
                   if not any(part.startswith((".", "_")) for part in f.relative_to(folder).parts))  # fmt: skip
    if not files:
        raise InputError(f"{folder}: no Parquet files in the folder")
    return files


def parquet_schema(files: list[Path]) -> tuple[pa.Schema, int]:
    """The columns all the files share, and their rows, from their footers."""
    schema: pa.Schema | None = None
    rows = 0
    for file in files:
        try:
            with parquet_file(file) as footer:
                own, count = footer.schema_arrow.remove_metadata(), footer.metadata.num_rows
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"{file}: not a readable Parquet file ({one_line(e)})") from None
        if schema is not None and not own.equals(schema):
            raise InputError(f"{file}: its columns differ from {files[0]}'s: a table's files must share them")
        schema = own
        rows += count
    assert schema is not None
    return schema, rows


@contextmanager
def parquet_file(path: Path) -> Iterator[pq.ParquetFile]:
    """A Parquet file, opened here: pyarrow takes only UTF-8 paths, and a name need not be."""
    with open(path, "rb") as stream:
        yield pq.ParquetFile(stream)


def csv_options(file: Path, names: list[str] | None = None) -> dict[str, object]:
    """How a CSV is read: its delimiter by extension; every column as text (a CSV has no types, and a column
    that looks numeric in its first rows may not be in its last: kept as written)."""
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names or [], pa.string()), strings_can_be_null=False)
    return {"parse_options": pacsv.ParseOptions(delimiter=delimiter), "convert_options": convert}


def csv_reader(file: Path, names: list[str]) -> Iterator[pa.RecordBatch]:
    """A CSV's rows in record batches of at most READ_ROWS."""
    with open(file, "rb") as stream:  # opened here: pyarrow takes only UTF-8 paths, and a name need not be
        for batch in pacsv.open_csv(stream, **csv_options(file, names)):
            for start in range(0, batch.num_rows, READ_ROWS):
                yield batch.slice(start, READ_ROWS)


def csv_schema(file: Path) -> tuple[pa.Schema, int]:
    """A CSV's columns (from its header) and rows, read through once: a malformed line fails here."""
    try:
        with open(file, "rb") as stream:
            names = pacsv.open_csv(stream, **csv_options(file)).schema.names
        rows = sum(batch.num_rows for batch in csv_reader(file, names))
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise InputError(f"{file}: not a readable CSV ({one_line(e)})") from None
    if len(set(names)) != len(names):
        raise InputError(f"{file}: its header names a column twice")
    return pa.schema([(name, pa.string()) for name in names]), rows


def manifest_records(file: Path) -> Iterator[dict[str, object] | str]:
    """Each line of a JSONL manifest: its object, or why it is not one (a bad line is its row's error, not the
    table's). Blank lines are no rows."""
    try:
        with open(file, "rb") as stream:
            for number, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    record = json_value(line)
                except ValueError as e:
                    yield f"line {number:,} is not JSON ({one_line(e)})"
                    continue
                yield record if isinstance(record, dict) else f"line {number:,} is not a JSON object"
    except OSError as e:
        raise InputError(f"{file}: cannot read ({e.strerror or e})") from None


# A manifest line's own error travels to its row's `error` in a column of its own, marked as such and named
# apart from every key of the manifest: never one of the table's columns, never an output column.
LINE_ERRORS = {b"snac": b"line errors"}


def line_errors(schema: pa.Schema) -> str | None:
    """The column that carries a manifest's line errors, if the table has one."""
    return next((f.name for f in schema if f.metadata == LINE_ERRORS), None)


def manifest_chunks(file: Path) -> Iterator[list[dict[str, object] | str]]:
    """A manifest's records, MANIFEST_LINES at a time; a bad line as its error."""
    chunk: list[dict[str, object] | str] = []
    for record in manifest_records(file):
        chunk.append(record)
        if len(chunk) == MANIFEST_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def manifest_schema(file: Path) -> tuple[pa.Schema, int]:
    """A manifest's columns, the types of all its lines unified (a column null in some lines, an integer in
    one and a float in another), and its rows, read through once."""
    schemas = []
    rows = 0
    for chunk in manifest_chunks(file):
        rows += len(chunk)
        records = [r for r in chunk if isinstance(r, dict)]
        keys = dict.fromkeys(k for record in records for k in record)  # every line's, not the first's
        try:
            schemas.append(pa.Table.from_pydict({k: [r.get(k) for r in records] for k in keys}).schema)
        except (pa.ArrowException, OverflowError) as e:
            raise InputError(f"{file}: a column holds values of different types ({one_line(e)})") from None
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
    except pa.ArrowException as e:
        raise InputError(f"{file}: a column holds values of different types ({one_line(e)})") from None
    if rows == 0:
        raise InputError(f"{file}: no records in the manifest")
    name = "__snac_line_error__"
    while name in schema.names:
        name += "_"
    return schema.append(pa.field(name, pa.string(), metadata=LINE_ERRORS)), rows


def manifest_batches(file: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """A manifest's rows as record batches of its unified columns, each bad line's error in its own column."""
    errors = line_errors(schema)
    for chunk in manifest_chunks(file):
        rows = [{errors: r} if isinstance(r, str) else r for r in chunk]
        for start in range(0, len(rows), READ_ROWS):
            yield pa.RecordBatch.from_pylist(rows[start : start + READ_ROWS], schema=schema)


def audio_of(schema: pa.Schema, column: str | None, data: str) -> str:
    """The audio column, named or found, checked to hold audio: {bytes, path} structs, paths, or bytes."""
    names = [n for n in schema.names if n != line_errors(schema)]
    name = column or next((c for c in AUDIO_COLUMNS if c in names), None)
    if name is None or name not in names:
        wanted = f"no column {column!r}" if column else f"no {' or '.join(AUDIO_COLUMNS)} column"
        raise InputError(f"{data}: {wanted} (its columns: {', '.join(names) or 'none'}); name it with --audio-column")
    kind = schema.field(name).type
    if pa.types.is_struct(kind):
        fields = {kind.field(i).name: kind.field(i).type for i in range(kind.num_fields)}
        audio = {"bytes": is_binary, "path": is_text}  # datasets' Audio feature; other fields are left alone
        if audio.keys() & fields and all(check(fields[f]) for f, check in audio.items() if f in fields):
            return name
    elif is_text(kind) or is_binary(kind):
        return name
    raise InputError(f"{data}: column {name!r} holds {kind}, not audio ({{bytes, path}} structs, paths or bytes)")


def is_binary(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_null(kind)


def is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)

"""The output of a table run: a folder `OUT.parquet` of part files, `part-00000.parquet`, ..., each written
atomically and holding the run's layout in its metadata, so that a killed run resumes after its last whole
part, and `_snac.json` once the table is complete (Parquet readers skip names that start with `_`)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from snac_cli.errors import InputError, OutputError
from snac_cli.files import atomic_output, partial_of, sweep_partials
from snac_cli.tables.sources import parquet_file

META_KEY = b"snac"  # the Parquet metadata entry of each part: the layout, the digest, the part's rows
MARKER = "_snac.json"  # the finished table's layout, rows and parts
PART = re.compile(r"part-(\d{5,})\.parquet")


def digest(layout: dict[str, Any]) -> str:
    """What must match for a part to be kept by a resumed run: the input, the model, every setting."""
    return hashlib.sha256(json.dumps(layout, sort_keys=True).encode()).hexdigest()[:16]


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def part_meta(path: Path) -> dict[str, Any] | None:
    """A part's snac metadata, or None when it is no part of ours (or cannot be read: a part is written
    whole or not at all, but a disk can fail)."""
    try:
        with parquet_file(path) as part:
            footer = part.metadata
        value = json.loads((footer.metadata or {})[META_KEY])
    except Exception:  # not Parquet, no metadata of ours, not JSON: not a part to keep
        return None
    # what it says of its rows must be what it holds: a resumed run skips that many rows of the input
    return value if isinstance(value, dict) and value.get("rows") == footer.num_rows else None


def read_marker(folder: Path) -> dict[str, Any] | None:
    """A finished table's `_snac.json`, or None."""
    try:
        value = json.loads((folder / MARKER).read_text())
        return value if isinstance(value, dict) and isinstance(value.get("layout"), dict) else None
    except (OSError, ValueError):
        return None


class Parts:
    """The parts of one run's output, written in row order."""

    def __init__(self, folder: Path, layout: dict[str, Any], *, force: bool):
        self.folder, self.layout, self.force = folder, layout, force
        self.digest = digest(layout)
        self.names: list[str] = []  # of the whole parts, in order
        self.rows = 0  # the rows they hold

    def finished(self) -> dict[str, Any] | None:
        """The marker of this very table, complete (the same input, model and settings): nothing to do."""
        marker = read_marker(self.folder)
        return marker if marker and marker.get("digest") == self.digest and not self.force else None

    def prepare(self) -> int:
        """Make the folder ready and return the rows already done: the whole parts a killed run of the same
        table left, in order from the first. Everything else of ours goes (parts of other settings, parts
        past a gap, what a killed writer left half-written); what is not ours is refused, unless --force."""
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            if not self.force:
                raise OutputError(f"{self.folder}: exists and is not a table snac wrote (use --force to replace it)")
            self.folder.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock()
        marker = read_marker(self.folder)
        entries = sorted(self.folder.iterdir())
        ours = [e for e in entries if e.name == MARKER or PART.fullmatch(e.name) or partial_of(e.name)]
        parquet = [e for e in entries if e not in ours and e.suffix == ".parquet" and e.is_file()]
        foreign = [e for e in entries if e not in ours and e not in parquet]
        if foreign or (parquet and not (marker or self.force)):
            raise OutputError(
                f"{self.folder}: holds {(foreign or parquet)[0].name}, which is no part of a table snac wrote "
                f"({'remove it' if foreign else 'use --force to replace the table'})"
            )
        for path in parquet:  # a finished table's own files (written on Ray), or replaced by --force
            path.unlink()
        (self.folder / MARKER).unlink(missing_ok=True)  # the table is being changed
        sweep_partials([self.folder / name for e in entries if (name := partial_of(e.name))])
        for path in sorted(p for p in self.folder.iterdir() if PART.fullmatch(p.name)):
            meta = None if self.force else part_meta(path)
            whole = (meta and meta.get("digest") == self.digest and meta.get("first_row") == self.rows
                     and path.name == part_name(len(self.names)))  # fmt: skip
            if whole and meta is not None:
                self.names.append(path.name)
                self.rows += meta["rows"]
            else:
                path.unlink()
        return self.rows

    def lock(self) -> None:
        """One run at a time writes a table: a second is refused while the first holds the folder's lock
        (released by the system when the first ends, however it ends)."""
        import fcntl
        import os

        self._lock: int | None = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise OutputError(f"{self.folder}: another snac run is writing this table") from None

    def close(self) -> None:
        """Let the next run write the table."""
        import os

        lock = getattr(self, "_lock", None)
        if lock is not None:
            os.close(lock)
            self._lock = None

    def write(self, table: pa.Table) -> None:
        """The next part, written atomically, its layout and rows in its metadata."""
        name = part_name(len(self.names))
        meta = {"layout": self.layout, "digest": self.digest, "first_row": self.rows, "rows": table.num_rows}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta)})
        with atomic_output(self.folder / name) as out:
            pq.write_table(table, out)
        self.names.append(name)
        self.rows += table.num_rows

    def finish(self, failed: int) -> None:
        """Mark the table complete: its layout, rows and parts, for readers and for `snac decode --row`."""
        write_marker(self.folder, self.layout, self.digest, rows=self.rows, failed=failed, parts=self.names)


def write_marker(folder: Path, layout: dict[str, Any], digest: str, *, rows: int, failed: int,
                 parts: list[str]) -> None:  # fmt: skip
    """`_snac.json`, written atomically: the sign that a table is complete."""
    marker = {"layout": layout, "digest": digest, "rows": rows, "failed": failed, "parts": parts}
    with atomic_output(folder / MARKER) as out:
        out.write((json.dumps(marker, indent=1) + "\n").encode())


def table_layout(path: Path) -> dict[str, Any]:
    """The layout of a table snac wrote (model, tokens, settings), from its marker or its first part."""
    if path.is_dir():
        marker = read_marker(path)
        if marker is not None:
            return dict(marker["layout"])
        parts = sorted(p for p in path.iterdir() if PART.fullmatch(p.name))
        meta = part_meta(parts[0]) if parts else None
    else:
        meta = part_meta(path)
    if meta is None or not isinstance(meta.get("layout"), dict):
        raise InputError(f"{path}: not a table snac wrote (no snac layout in its metadata)")
    return dict(meta["layout"])

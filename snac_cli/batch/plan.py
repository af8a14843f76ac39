"""Many files at once: a folder tree or a list of files in, a mirrored tree out, resumable, with a manifest.

Each output carries a stamp of what it was made from (its input's size and mtime, a digest of the settings
that shape it). An output whose stamp matches and that reads back whole is up to date and skipped, so a run
that was killed picks up where it stopped. A run only ever overwrites files that snac wrote: anything else
in its way is reported and left alone (unless --force). A file that fails is recorded and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePath

from snac_cli.errors import InputError, OutputError, described

# What libsndfile reads, by extension: the same files a folder run picks up as single-file mode reads.
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".caf",
                  ".au", ".snd", ".w64", ".rf64")  # fmt: skip
MANIFEST = "manifest.jsonl"


@dataclass
class Job:
    """One input file and the output it makes."""

    source: Path
    target: Path


@dataclass
class Record:
    """One line of the manifest: what became of one input."""

    input: str
    output: str
    status: str  # ok, skipped (up to date), failed, or ignored (not a regular file: a FIFO, a device)
    seconds: float | None = None  # the input's duration
    frames: list[int] | None = None  # codes per scale and channel (encoding)
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})


def find_inputs(root: Path, suffixes: tuple[str, ...], exclude: Path | None = None) -> list[Path]:
    """Every file below `root` with one of `suffixes` (any case), hidden ones aside, in a stable order; the
    folder `exclude` (a run's output folder, when it lies inside its input) is never entered."""
    found = []
    skip = exclude.resolve() if exclude is not None else None
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (Path(folder) / d).resolve() != skip)
        found += [Path(folder) / f for f in sorted(files) if not f.startswith(".") and f.lower().endswith(suffixes)]
    return found


def read_list(lines: Iterable[bytes]) -> list[Path]:
    """Paths from a list, one per line, as bytes: a name need not be UTF-8 (it is decoded as the file system
    does). Blank lines and lines starting with # are skipped."""
    names = (os.fsdecode(line.rstrip(b"\r\n")) for line in lines)
    return [Path(name) for name in names if name.strip() and not name.startswith("#")]


def relative_target(path: Path, root: Path | None) -> PurePath:
    """Where an input lands below the output folder: its place below `root`, or (a listed file) its path
    with any leading / and .. removed, as tar does."""
    if root is not None:
        return path.relative_to(root)
    return PurePath(*[part for part in path.parts if part not in ("..", path.anchor)])


def plan(sources: list[Path], out_dir: Path, suffix: str, root: Path | None = None) -> list[Job]:
    """A job per input, its output mirrored below `out_dir` with `suffix` (two inputs may share one: see
    `collisions`)."""
    return [Job(s, out_dir / relative_target(s, root).with_suffix(suffix)) for s in sources]


def collisions(jobs: Iterable[Job]) -> dict[Path, list[Path]]:
    """The outputs that more than one input would write (an input listed twice among them), each with its
    inputs in order: only one of them could be kept, so none of them is written."""
    inputs: dict[Path, list[Path]] = {}
    for job in jobs:
        inputs.setdefault(job.target, []).append(job.source)
    return {target: sources for target, sources in inputs.items() if len(sources) > 1}


def collision(target: Path, sources: list[Path]) -> str:
    """What is wrong with inputs that would write one output."""
    if len(set(sources)) == 1:
        return f"{sources[0]} is given {len(sources)} times (each would write {target})"
    both = "both" if len(sources) == 2 else "all"
    return f"{', '.join(map(str, sources[:-1]))} and {sources[-1]} would {both} write {target}"


def sources_of(
    input: str | None,
    *,
    files_from: str | None,
    stdin: Iterable[bytes],
    suffixes: tuple[str, ...] = AUDIO_SUFFIXES,
    exclude: Path | None = None,
) -> tuple[list[Path], Path | None]:
    """The inputs of a batch run and the root they are mirrored from (None for a list of files)."""
    if files_from is not None:
        if files_from == "-":
            return read_list(stdin), None
        try:
            with open(files_from, "rb") as lines:
                return read_list(lines), None
        except OSError as e:
            raise InputError(f"{files_from}: cannot read the list ({e.strerror or e})") from None
    assert input is not None
    return find_inputs(Path(input), suffixes, exclude), Path(input)


def stamp(source: Path, settings: dict[str, object]) -> str:
    """What an output is made from: its input's size and modification time, and a digest of the settings
    that change the output. An output whose stamp matches is up to date."""
    info = source.stat()
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return f"{info.st_size}:{info.st_mtime_ns}:{digest}"


def prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: not a directory (several inputs need an output folder)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot create the output folder ({e.strerror or e})") from None


def check_manifest(path: Path, jobs: list[Job], force: bool) -> None:
    """Before any work: the manifest is an output like any other. It may not be an input or another output,
    and only a manifest that snac wrote is overwritten (any file with --force)."""
    if path.is_dir():
        raise OutputError(f"{path}: is a directory (--manifest names a file)")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: no such directory {path.parent}")
    if path.exists():
        for job in jobs:
            for other, what in ((job.source, "an input"), (job.target, "an output")):
                if other.exists() and path.samefile(other):
                    raise OutputError(f"{path}: the manifest would overwrite {what}, {other}")
        if not force and not is_manifest(path):
            raise OutputError(f"{path}: exists and is not a snac manifest (use --force to overwrite)")


def is_manifest(path: Path) -> bool:
    """Whether a file is a manifest that snac wrote: JSON lines, each a record with input, output and status."""
    from snac_cli.format.export import json_value

    try:
        with open(path, "rb") as lines:
            records = [json_value(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return False
    return all(isinstance(r, dict) and {"input", "output", "status"} <= r.keys() for r in records)


def write_manifest(path: Path, records: Iterable[Record]) -> None:
    """The manifest, one JSON object per line, written atomically."""
    from snac_cli.files import atomic_output

    with atomic_output(path) as stream:
        for record in records:
            stream.write((record.to_json() + "\n").encode())  # json escapes names that are not UTF-8 (ASCII out)


def summary(records: list[Record], seconds: float) -> str:
    """One line: how many files were done, skipped and failed, and how fast."""
    counts = {status: sum(r.status == status for r in records) for status in ("ok", "skipped", "failed", "ignored")}
    audio = sum(r.seconds or 0.0 for r in records if r.status == "ok")
    speed = f", {audio / seconds:.1f}x real time" if seconds > 0 and audio else ""
    ignored = f", {counts['ignored']} not regular files ignored" if counts["ignored"] else ""
    return (
        f"{counts['ok']} done ({audio:.1f} s of audio in {seconds:.1f} s{speed}), "
        f"{counts['skipped']} up to date, {counts['failed']} failed{ignored}"
    )


def failed(job: Job, error: BaseException) -> Record:
    """The record of a job that failed, with a one-line reason (the exception's class when it is not ours)."""
    return Record(str(job.source), str(job.target), "failed", error=described(error))

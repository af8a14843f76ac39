"""Many files at once: a folder tree or a list of files in, a mirrored tree out, resumable, with a manifest.

Outputs that are newer than their input and read back whole are up to date and skipped, so a run that was
killed picks up where it stopped. A file that fails is recorded and the run goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePath

from .errors import InputError, OutputError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")
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
    status: str  # ok, skipped (up to date) or failed
    seconds: float | None = None  # the input's duration
    frames: list[int] | None = None  # codes per scale and channel (encoding)
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None})


def find_inputs(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file below `root` with one of `suffixes` (any case), hidden ones aside, in a stable order."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / f for f in sorted(files) if not f.startswith(".") and f.lower().endswith(suffixes)]
    return found


def read_list(lines: Iterable[str]) -> list[Path]:
    """Paths from a list, one per line; blank lines and lines starting with # are skipped."""
    return [Path(line.rstrip("\r\n")) for line in lines if line.strip() and not line.startswith("#")]


def relative_target(path: Path, root: Path | None) -> PurePath:
    """Where an input lands below the output folder: its place below `root`, or (a listed file) its path
    with any leading / and .. removed, as tar does."""
    if root is not None:
        return path.relative_to(root)
    return PurePath(*[part for part in path.parts if part not in ("..", path.anchor)])


def plan(sources: list[Path], out_dir: Path, suffix: str, root: Path | None = None) -> list[Job]:
    """A job per input, its output mirrored below `out_dir` with `suffix`; two inputs may not share one."""
    jobs = [Job(s, out_dir / relative_target(s, root).with_suffix(suffix)) for s in sources]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise InputError(f"{seen[job.target]} and {job.source} would both write {job.target}")
        seen[job.target] = job.source
    return jobs


def sources_of(
    input: str | None, files_from: str | None, stdin: Iterable[str], suffixes: tuple[str, ...] = AUDIO_SUFFIXES
) -> tuple[list[Path], Path | None]:
    """The inputs of a batch run and the root they are mirrored from (None for a list of files)."""
    if files_from is not None:
        if files_from == "-":
            return read_list(stdin), None
        try:
            with open(files_from, encoding="utf-8") as lines:
                return read_list(lines), None
        except OSError as e:
            raise InputError(f"{files_from}: {e.strerror}") from None
    assert input is not None
    return find_inputs(Path(input), suffixes), Path(input)


def newer(target: Path, source: Path) -> bool:
    """True when `target` exists and was written after `source` last changed."""
    try:
        return target.stat().st_mtime >= source.stat().st_mtime
    except OSError:
        return False


def prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: not a directory (several inputs need an output folder)")
    out_dir.mkdir(parents=True, exist_ok=True)


def write_manifest(path: Path, records: Iterable[Record]) -> None:
    """The manifest, one JSON object per line, written atomically."""
    from .files import atomic_output

    with atomic_output(path) as stream:
        for record in records:
            stream.write((record.to_json() + "\n").encode())


def summary(records: list[Record], seconds: float) -> str:
    """One line: how many files were done, skipped and failed, and how fast."""
    counts = {status: sum(r.status == status for r in records) for status in ("ok", "skipped", "failed")}
    audio = sum(r.seconds or 0.0 for r in records if r.status == "ok")
    speed = f", {audio / seconds:.1f}x real time" if seconds > 0 and audio else ""
    return (
        f"{counts['ok']} done ({audio:.1f} s of audio in {seconds:.1f} s{speed}), "
        f"{counts['skipped']} up to date, {counts['failed']} failed"
    )


def run_pool(units: list[list[Job]], work: Callable[[list[Job]], list[Record]], jobs: int) -> Iterator[list[Record]]:
    """Run `work` on each unit of jobs, in this process or in `jobs` worker processes; yield as they finish."""
    if jobs <= 1:
        for unit in units:
            yield work(unit)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")  # torch does not survive fork with threads running
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        pending = {pool.submit(work, unit) for unit in units}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise

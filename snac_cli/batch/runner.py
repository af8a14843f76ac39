"""A folder or list run from start to end: plan, skip what is up to date, sweep what dead runs left, work (in
this process, worker processes or on Ray), then the manifest. The CLI only prints what it returns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from snac_cli.audio.reader import is_regular
from snac_cli.batch.plan import (
    MANIFEST,
    Job,
    Record,
    check_manifest,
    collision,
    collisions,
    failed,
    plan,
    prepare_out_dir,
    sources_of,
    summary,
    write_manifest,
)
from snac_cli.errors import InputError, SnacError
from snac_cli.files import sweep_partials
from snac_cli.progress import Progress, silent
from snac_cli.settings import ModelSettings, RunSettings


class Task(Protocol):
    """What a folder run does to each job group: `batch.tasks.EncodeTask` or `DecodeTask` (picklable)."""

    @property
    def inputs(self) -> tuple[str, ...]: ...  # the suffixes of the inputs it takes
    @property
    def suffix(self) -> str: ...  # of the outputs it makes
    @property
    def verb(self) -> str: ...  # what the progress bar says
    @property
    def model(self) -> ModelSettings: ...

    def existing(self, job: Job) -> Record | None: ...
    def groups(self, jobs: list[Job]) -> list[list[Job]]: ...
    def __call__(self, group: list[Job]) -> list[Record]: ...


def run_batch(
    task: Task,
    *,
    input: str | None,
    output: str,
    files_from: str | None = None,
    stdin: Iterable[bytes] = (),
    run: RunSettings = RunSettings(),
    progress: Progress = silent,
    on_summary: Callable[[str], None] | None = None,
) -> list[Record]:
    """Run `task` over a folder (`input`) or a list of files (`files_from`, - for `stdin`) into the folder
    `output`; returns every input's record, as the manifest holds them (a file that failed is one of them).

    `on_summary` gets the one-line summary at the end, even of an interrupted run (not of one stopped by an
    error, which says it all)."""
    started = time.perf_counter()
    if input is not None and not Path(input).is_dir():
        raise InputError(f"{input}: no such folder")
    out_dir = Path(output)
    sources, root = sources_of(input, files_from=files_from, stdin=stdin, suffixes=task.inputs, exclude=out_dir)
    if not sources:
        raise InputError(f"no {'audio' if len(task.inputs) > 1 else task.inputs[0]} files in {input or files_from}")
    jobs = plan(sources, out_dir, task.suffix, root)
    prepare_out_dir(out_dir)
    manifest = Path(run.manifest) if run.manifest else out_dir / MANIFEST
    check_manifest(manifest, jobs, run.force)
    sweep_partials([job.target for job in jobs] + [manifest])
    clashes = collisions(jobs)
    records: list[Record] = []
    todo = []
    for job in jobs:
        if job.target in clashes:  # only one of them could be kept: none is written, the other jobs go on
            records.append(failed(job, InputError(collision(job.target, clashes[job.target]))))
            continue
        if not is_regular(job.source):  # a FIFO could block the run, a device never end
            records.append(Record(str(job.source), str(job.target), "ignored", error="not a regular file"))
            continue
        existing = None if run.force else task.existing(job)
        if existing is not None:
            records.append(existing)
        else:
            todo.append(job)
    stopped_by: BaseException | None = None
    try:
        with progress(task.verb, len(todo), "files") as advance:
            for done in work(task, task.groups(todo), run):
                records += done
                advance(len(done))
    except BaseException as e:
        stopped_by = e
        raise
    finally:
        order = {str(job.source): i for i, job in enumerate(jobs)}
        records.sort(key=lambda r: order[r.input])
        write_manifest(manifest, records)
        if on_summary and not isinstance(stopped_by, SnacError):
            on_summary(summary(records, time.perf_counter() - started))
    return records


def work(task: Task, groups: list[list[Job]], run: RunSettings) -> Iterator[list[Record]]:
    """The groups' records as they finish: on Ray, or in this process and worker processes."""
    if run.ray is not None:
        from snac_cli.batch.ray_data import run_on_ray

        return run_on_ray(task, groups, None if run.ray == "local" else run.ray, run.jobs)
    return run_pool(groups, task, run.jobs)


def run_pool(groups: list[list[Job]], work: Callable[[list[Job]], list[Record]], jobs: int) -> Iterator[list[Record]]:
    """Run `work` on each group of jobs, in this process or in `jobs` worker processes; yield as they finish.
    A group that raises, or whose worker dies, is recorded as failed; the others go on (batch/workers.py)."""
    if jobs <= 1 or len(groups) <= 1:
        for group in groups:
            try:
                yield work(group)
            except Exception as e:  # work records its own failures; this is the net under it
                yield [failed(job, e) for job in group]
        return
    from snac_cli.batch.workers import run_workers

    yield from run_workers(groups, work, min(jobs, len(groups)))

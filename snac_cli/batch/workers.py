"""Worker processes for a folder run: each runs one job group at a time, so that a worker that dies (killed,
out of memory) fails only the group it was running; a new worker takes the rest, and the run goes on."""

from __future__ import annotations

import multiprocessing
import signal
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from snac_cli.batch.plan import Job, Record, failed

Work = Callable[[list[Job]], list[Record]]


def serve(connection: Connection, work: Work) -> None:
    """A worker's life: job groups in, their records out, until the run closes its end. Stopped by the run
    (SIGTERM), it unwinds as from Ctrl-C, so that the output it was writing is removed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the run stops us
    signal.signal(signal.SIGTERM, interrupted)
    try:
        while True:
            try:
                group = connection.recv()
            except (EOFError, OSError):
                return
            try:
                records = work(group)
            except Exception as e:  # work records its own failures; this is the net under it
                records = [failed(job, e) for job in group]
            connection.send(records)
    except KeyboardInterrupt:
        return


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass
class Worker:
    process: BaseProcess
    connection: Connection
    group: list[Job] | None = None  # the job group it is running

    def lost(self) -> list[Record]:
        """The records of the group it was running when it died, each naming its file and how it died."""
        code = self.process.exitcode
        how = f"was killed (signal {-code})" if code is not None and code < 0 else f"exited (code {code})"
        return [
            Record(str(job.source), str(job.target), "failed", error=f"{job.source}: the worker {how}")
            for job in self.group or []
        ]


def start(work: Work) -> Worker:
    context = multiprocessing.get_context("spawn")  # torch does not survive fork with threads running
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(theirs, work), daemon=True)
    with warnings.catch_warnings():  # "resource_tracker: process died unexpectedly, relaunching": it is relaunched
        warnings.simplefilter("ignore", UserWarning)
        process.start()
    theirs.close()
    return Worker(process, ours)


def run_workers(groups: list[list[Job]], work: Work, jobs: int) -> Iterator[list[Record]]:
    """Run `work` on each group in up to `jobs` worker processes; yield each group's records as it ends."""
    queue = deque(groups)
    workers: list[Worker] = []
    with spawning_without_sigpipe():
        try:
            while queue or workers:
                while queue and len(workers) < jobs:
                    workers.append(start(work))
                for worker in workers:
                    if worker.group is None and queue:
                        worker.group = queue.popleft()
                        try:
                            worker.connection.send(worker.group)
                        except OSError:  # it died before it could take it: its sentinel says so below
                            pass
                wait([w.connection for w in workers] + [w.process.sentinel for w in workers])
                for worker in list(workers):
                    records = result_of(worker)
                    if records is not None:
                        worker.group = None
                        yield records
                    elif not worker.process.is_alive():
                        worker.process.join()
                        workers.remove(worker)
                        if worker.group:
                            yield worker.lost()
                    if worker.group is None and not queue and worker in workers:
                        stop(worker)
                        workers.remove(worker)
        finally:
            for worker in workers:
                stop(worker)


def result_of(worker: Worker) -> list[Record] | None:
    """The records a worker has sent, or None while it works (or once it died without sending them)."""
    try:
        if worker.group is not None and worker.connection.poll():
            records: list[Record] = worker.connection.recv()
            return records
    except (EOFError, OSError):
        pass
    return None


def stop(worker: Worker) -> None:
    """End a worker: an idle one ends on its own once its pipe closes; a busy one (the run stopped) is ended."""
    worker.connection.close()
    if worker.group is not None:
        worker.process.terminate()
    worker.process.join(timeout=10)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()


@contextmanager
def spawning_without_sigpipe() -> Iterator[None]:
    """SIGPIPE ignored while workers run: the run writes nothing to stdout, and a dead pipe to multiprocessing's
    resource tracker (killed) must be the error multiprocessing handles (it starts a new tracker), not the
    signal that would end the run before its manifest is written."""
    if not hasattr(signal, "SIGPIPE"):  # Windows
        yield
        return
    previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGPIPE, previous)

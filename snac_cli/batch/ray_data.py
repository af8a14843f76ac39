"""Tokenizing on Ray Data, for corpora larger than one machine: a class for `Dataset.map_batches`, and the
`snac encode --ray` run. Needs the optional extra: `pip install snac-cli[ray]`.

    ds = ray.data.read_binary_files("s3://bucket/clips/")        # or from_items([{"path": ...}])
    ds = ds.map_batches(SnacEncoder, fn_constructor_kwargs={"model": "24khz"}, concurrency=4, num_gpus=1)
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import numpy as np

from snac_cli.batch.plan import Job, Record
from snac_cli.batch.runner import Task
from snac_cli.codec.coders import load_coder
from snac_cli.codec.encoding import encode_clips
from snac_cli.errors import UsageError, one_line
from snac_cli.settings import DEFAULT_MODEL, Channels, EncodeSettings, ModelSettings, Normalize, Precision

BATCH_SIZE = 16  # rows per call of SnacEncoder


class SnacEncoder:
    """Encodes a batch of rows holding audio files, as `path` (readable by the worker) or `bytes` (a file's
    contents, as `read_binary_files` gives). Adds per row: `snac` (the `.snac` file's bytes), `codes_0` ...
    (codes per scale, coarsest first, (channels, n_i) each), `seconds`, `error` (empty when it worked)."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        precision: str = "fp32",
        channels: str = "mix",
        normalize: str = "loudness",
        metadata: dict[str, str] | None = None,
    ):
        """Keywords, as `fn_constructor_kwargs` gives them: the model's, then the encode settings."""
        self.model = ModelSettings(model, device, Precision(precision))
        self.settings = EncodeSettings(Channels(channels), Normalize(normalize), metadata or {})
        self.scales = len(load_coder(self.model).facts.vq_strides)  # loaded once per actor, before the first batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from snac_cli.format.container import to_bytes

        if "bytes" in batch:
            sources: list = [io.BytesIO(bytes(b)) for b in batch["bytes"]]
            names = [str(p) for p in batch.get("path", [f"row {i}" for i in range(len(sources))])]
        elif "path" in batch:
            names = [str(p) for p in batch["path"]]
            sources = list(names)
        else:
            raise UsageError("SnacEncoder needs a `path` or a `bytes` column")
        results = encode_clips(sources, self.settings, model=self.model, names=names)
        out: dict[str, Any] = {k: v for k, v in batch.items() if k != "bytes"}
        out["snac"] = [b"" if isinstance(r, Exception) else to_bytes(r) for r in results]
        out["seconds"] = [
            0.0 if isinstance(r, Exception) else r.original_length / r.original_sample_rate for r in results
        ]
        out["error"] = [str(r) if isinstance(r, Exception) else "" for r in results]
        for i in range(self.scales):
            empty = np.zeros((0, 0), dtype=np.int16)
            column = [empty if isinstance(r, Exception) else r.codes[i].astype(np.int16) for r in results]
            out[f"codes_{i}"] = np.array(column + [None], dtype=object)[:-1]  # ragged: one array per row
        return out


class GroupRunner:
    """Runs the job groups of a `snac encode --ray` run on Ray workers, with the local run's own code (so the
    same groups give the same files): each row names a group; the worker writes its outputs, returns records."""

    def __init__(self, task: Task, groups: list[list[Job]]):
        self.task, self.groups = task, groups

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        records = [r for group in batch["group"] for r in self.task(self.groups[int(group)])]
        return {"record": [json.dumps(asdict(r)) for r in records]}


def run_on_ray(
    task: Task, groups: list[list[Job]], address: str | None, concurrency: int = 1
) -> Iterator[list[Record]]:
    """Run job groups on Ray (a local instance when `address` is None). Inputs and outputs must be on
    storage that every node sees under the same paths."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray Data: pip install 'snac-cli[ray]'") from None
    import logging

    if not groups:
        return
    connect(ray, address)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
    absolute = [[Job(job.source.resolve(), job.target.resolve()) for job in group] for group in groups]
    model = task.model
    gpus = 1 if model.device.startswith("cuda") else 0
    # Each worker gets the threads a local run would have: thread counts change float rounding, and so, rarely,
    # a code whose nearest codebook entries are all but tied.
    threads = model.threads or os.cpu_count() or 1
    task = dataclasses.replace(task, model=dataclasses.replace(model, threads=threads))  # type: ignore[type-var]
    dataset = ray.data.from_items([{"group": i} for i in range(len(groups))]).map_batches(
        GroupRunner, fn_constructor_args=(task, absolute), batch_size=1, concurrency=concurrency, num_gpus=gpus,
        num_cpus=reserved_cpus(ray, threads, concurrency),
    )  # fmt: skip
    local = {
        str(a.source): job
        for group, absolute_group in zip(groups, absolute, strict=True)
        for job, a in zip(group, absolute_group, strict=True)
    }
    for batch in dataset.iter_batches(batch_size=1, batch_format="numpy"):
        records = [Record(**json.loads(line)) for line in batch["record"]]
        for record in records:  # name the files as the user did
            job = local[record.input]
            record.input, record.output = str(job.source), str(job.target)
        yield records


def reserved_cpus(ray: Any, threads: int, concurrency: int) -> float:
    """The CPUs each worker asks Ray for: its threads, but never so many that the workers take every CPU of
    the cluster, which leaves none for Ray Data's own tasks that feed them (on 2 cores, 2 threads a worker
    hung for good; Ray only warned). A worker still runs its threads: the request is Ray's bookkeeping."""
    total = float(ray.cluster_resources().get("CPU", 1.0))
    return min(float(threads), max(0.25, (total - 1) / concurrency))


def connect(ray: Any, address: str | None) -> None:
    """Start a local Ray (`address` None) or join a cluster, saying in snac's words why one cannot be had.
    snac's own signal handlers stay (Ray's would end a run with its own exit code and a stack dump), and
    only Ray's errors reach the terminal (its notes and deprecations are not the user's business)."""
    import importlib.util
    import logging
    import signal
    import threading
    import warnings

    if address is not None and address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise UsageError(f"--ray={address} needs Ray Client: pip install 'snac-cli[ray]' (or 'ray[client]')")
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():  # Ray Client warns before it fails: the failure is said below, once
            warnings.simplefilter("ignore")
            ray.init(
                address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False,
                logging_level=logging.ERROR,
            )  # fmt: skip
    except ConnectionError:
        if address == "auto":
            raise UsageError(
                "--ray=auto found no Ray cluster on this node (join one with `ray start --address ...`, or give"
                " --ray alone for a local Ray)"
            ) from None
        raise UsageError(f"--ray={address}: cannot reach a Ray cluster there") from None
    except ValueError as e:  # "Invalid address format"
        raise UsageError(f"--ray={address}: {one_line(e)}") from None
    finally:  # set again even where Python still names its handler: Ray's C++ core replaces them beneath it
        if threading.current_thread() is threading.main_thread():
            for number, handler in handlers.items():
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    importlib.import_module("ray.data")  # its import sets up its own logging, which the lines below then quiet
    for name in ("ray", "ray.data"):  # Ray Data's console handler logs at INFO whatever the level asked
        for console in logging.getLogger(name).handlers:
            if not isinstance(console, logging.FileHandler):
                console.setLevel(logging.ERROR)

"""The work of a batch run, one unit of jobs at a time: picklable, so that worker processes can run it too.

Short inputs are encoded several per forward pass (`codec.encode_clips`); long ones are streamed alone.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .batch import AUDIO_SUFFIXES, Job, Record, failed, stamp

if TYPE_CHECKING:
    from .container import SnacFile

SHORT_SECONDS = 5.0  # inputs up to this long are batched; longer ones stream through the chunked path
UNIT_SECONDS = 60.0  # audio per unit of work handed to a worker (and per step of the progress bar)
SOURCE_KEY = "snac.source"  # the .snac metadata entry that holds the stamp of what a folder run made it from


@functools.lru_cache(maxsize=4)
def cached_model(name: str, device: str, precision: str, threads: int | None = None):
    """A model loaded once per process (and per thread count, for worker processes sharing the cores)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from .codec import load_model

    return load_model(name, device, precision)


def probe_seconds(path: Path) -> float | None:
    """An input's duration from its header, or None when it cannot be read (the job then reports why)."""
    import soundfile as sf

    from .audio import file_name

    try:
        info = sf.info(file_name(path))
    except Exception:  # libsndfile raises several kinds; the job itself will report the reason
        return None
    return info.frames / info.samplerate if info.samplerate else None


def units_of(jobs: list[Job], seconds: list[float | None]) -> list[list[Job]]:
    """Group jobs into units of work: each long input alone, short ones by length (neighbours batch with
    little padding) in units of about `UNIT_SECONDS` of audio."""
    long = [[job] for job, s in zip(jobs, seconds, strict=True) if s is None or s > SHORT_SECONDS]
    short = sorted((s, i) for i, s in enumerate(seconds) if s is not None and s <= SHORT_SECONDS)
    units: list[list[Job]] = []
    total = UNIT_SECONDS
    for s, i in short:
        if total + s > UNIT_SECONDS:
            units.append([])
            total = 0.0
        units[-1].append(jobs[i])
        total += s
    return long + units


def encoded_record(job: Job, snac: SnacFile, status: str = "ok") -> Record:
    return Record(
        str(job.source), str(job.target), status,
        seconds=snac.original_length / snac.original_sample_rate,
        frames=[c.shape[-1] for c in snac.codes],
    )  # fmt: skip


def refused(job: Job) -> Record:
    """The record of a job whose output is in the way: a file that snac did not write is never overwritten."""
    error = f"{job.target}: exists and was not written by snac (use --force to overwrite)"
    return Record(str(job.source), str(job.target), "failed", error=error)


def current_stamp(job: Job, settings: dict[str, object]) -> str | None:
    try:
        return stamp(job.source, settings)
    except OSError:
        return None  # the input is gone or unreadable: the job reports why


@dataclass
class EncodeTask:
    """Encode a unit of jobs into `.snac` files."""

    model: str
    device: str = "auto"
    precision: str = "fp32"
    channels: str = "mix"
    normalize: str = "loudness"
    metadata: dict[str, str] = field(default_factory=dict)
    chunk_seconds: float | None = None
    threads: int | None = None
    batch_seconds: float | None = None  # audio per forward pass of short clips; 0: one clip at a time
    inputs: ClassVar[tuple[str, ...]] = AUDIO_SUFFIXES
    suffix: ClassVar[str] = ".snac"
    verb: ClassVar[str] = "encoding"

    def settings(self) -> dict[str, object]:
        """What changes the codes, and so the stamp (the device and chunking do not)."""
        from .naming import model_id

        return {"model": model_id(self.model), "precision": self.precision, "channels": self.channels,
                "normalize": self.normalize, "metadata": self.metadata}  # fmt: skip

    def existing(self, job: Job) -> Record | None:
        """A record for an output in the way: up to date (its stamp matches and it reads back whole), or not
        snac's (it is not a `.snac` file). None when the job is to run."""
        from .container import read_snac

        if not os.path.lexists(job.target):
            return None
        try:
            snac = read_snac(job.target)
        except Exception:  # not a .snac file, or a damaged one, or a folder: not ours to replace
            return refused(job)
        if snac.metadata.get(SOURCE_KEY) != current_stamp(job, self.settings()):
            return None
        return encoded_record(job, snac, "skipped")

    def units(self, jobs: list[Job]) -> list[list[Job]]:
        return units_of(jobs, [probe_seconds(job.source) for job in jobs])

    def __call__(self, unit: list[Job]) -> list[Record]:
        try:
            return self.encode(unit)
        except Exception as e:  # the model does not load, or anything else that stops the whole unit
            return [failed(job, e) for job in unit]

    def encode(self, unit: list[Job]) -> list[Record]:
        from .audio import AudioReader
        from .codec import encode, encode_clips
        from .container import read_snac, write_snac
        from .files import atomic_output
        from .naming import model_id

        model = cached_model(self.model, self.device, self.precision, self.threads)
        name = model_id(self.model)
        stamps = [current_stamp(job, self.settings()) or "" for job in unit]  # before reading: a change redoes
        if len(unit) == 1 and (probe_seconds(unit[0].source) or 0) > SHORT_SECONDS:
            job = unit[0]
            try:
                job.target.parent.mkdir(parents=True, exist_ok=True)
                metadata = {**self.metadata, SOURCE_KEY: stamps[0]}
                with AudioReader(job.source) as audio, atomic_output(job.target) as out:
                    encode(model, name, audio, out, self.channels, self.normalize, metadata, self.chunk_seconds)
                return [encoded_record(job, read_snac(job.target))]
            except Exception as e:
                return [failed(job, e)]
        sources: list = [job.source for job in unit]
        limit = None if self.batch_seconds is None else round(self.batch_seconds * model.sampling_rate)
        results = encode_clips(model, name, sources, self.channels, self.normalize, self.metadata, limit=limit)
        records = []
        for job, result, source_stamp in zip(unit, results, stamps, strict=True):
            if isinstance(result, Exception):
                records.append(failed(job, result))
                continue
            try:
                result.metadata = {**result.metadata, SOURCE_KEY: source_stamp}
                job.target.parent.mkdir(parents=True, exist_ok=True)
                write_snac(job.target, result)
            except Exception as e:
                records.append(failed(job, e))
                continue
            records.append(encoded_record(job, result))
        return records


@dataclass
class DecodeTask:
    """Decode a unit of `.snac` files into audio files."""

    model: str | None = None  # None: the model each file names
    device: str = "auto"
    precision: str = "fp32"
    sample_rate: str | int = "original"
    subtype: str | None = None
    seed: int = 0
    chunk_seconds: float | None = None
    threads: int | None = None
    suffix: str = ".wav"  # the audio format written
    inputs: ClassVar[tuple[str, ...]] = (".snac",)
    verb: ClassVar[str] = "decoding"

    def settings(self) -> dict[str, object]:
        """What changes the audio, and so the stamp."""
        from .naming import model_id

        model = model_id(self.model) if self.model else None
        return {"model": model, "precision": self.precision, "sample_rate": self.sample_rate,
                "subtype": self.subtype, "seed": self.seed, "format": self.suffix}  # fmt: skip

    def existing(self, job: Job) -> Record | None:
        """A record for an output in the way: up to date (its stamp matches and it reads back whole), or not
        snac's (no snac comment tag). None when the job is to run."""
        from .audio import SNAC_TAG, comment_of, whole_duration

        if not os.path.lexists(job.target):
            return None
        comment = comment_of(job.target)
        if comment is None or not (comment == SNAC_TAG or comment.startswith(f"{SNAC_TAG} source=")):
            return refused(job)
        if comment != f"{SNAC_TAG} source={current_stamp(job, self.settings())}":
            return None
        seconds = whole_duration(job.target)
        return None if seconds is None else Record(str(job.source), str(job.target), "skipped", seconds=seconds)

    def units(self, jobs: list[Job]) -> list[list[Job]]:
        return [[job] for job in jobs]  # decoding is one file at a time

    def __call__(self, unit: list[Job]) -> list[Record]:
        return [self.decode(job) for job in unit]

    def decode(self, job: Job) -> Record:
        from .audio import SNAC_TAG
        from .codec import decode_file

        def model_for(name: str):
            return cached_model(self.model or name, self.device, self.precision, self.threads)

        try:
            comment = f"{SNAC_TAG} source={current_stamp(job, self.settings())}"  # before reading: a change redoes
            job.target.parent.mkdir(parents=True, exist_ok=True)
            with open(job.source, "rb") as stream:
                seconds = decode_file(
                    stream, job.target, model_for, self.sample_rate, self.subtype, self.seed, self.chunk_seconds,
                    comment=comment,
                )  # fmt: skip
        except Exception as e:  # any failure of one file is recorded, and the run goes on
            return failed(job, e)
        return Record(str(job.source), str(job.target), "ok", seconds=seconds)

"""The work of a folder run, one job group at a time: picklable, so that worker processes and Ray run it too.

Short inputs are encoded several per forward pass (`codec.encode_clips`); long ones are streamed alone.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from snac_cli.batch.plan import AUDIO_SUFFIXES, Job, Record, failed, stamp
from snac_cli.naming import model_id
from snac_cli.settings import DEFAULT_MODEL, DecodeSettings, EncodeSettings, ModelSettings

if TYPE_CHECKING:
    from snac_cli.format.container import SnacFile

SHORT_SECONDS = 5.0  # inputs up to this long are batched; longer ones stream through the inference windows
GROUP_SECONDS = 60.0  # audio per job group handed to a worker (and per step of the progress bar)
SOURCE_KEY = "snac.source"  # the .snac metadata entry that holds the stamp of what a folder run made it from


def groups_of(jobs: list[Job], seconds: list[float | None]) -> list[list[Job]]:
    """Group jobs: each long input alone, short ones by length (neighbours batch with little padding) in
    groups of about `GROUP_SECONDS` of audio."""
    long = [[job] for job, s in zip(jobs, seconds, strict=True) if s is None or s > SHORT_SECONDS]
    short = sorted((s, i) for i, s in enumerate(seconds) if s is not None and s <= SHORT_SECONDS)
    groups: list[list[Job]] = []
    total = GROUP_SECONDS
    for s, i in short:
        if total + s > GROUP_SECONDS:
            groups.append([])
            total = 0.0
        groups[-1].append(jobs[i])
        total += s
    return long + groups


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


def current_stamp(job: Job, shaping: dict[str, Any]) -> str | None:
    try:
        return stamp(job.source, shaping)
    except OSError:
        return None  # the input is gone or unreadable: the job reports why


@dataclass(frozen=True)
class EncodeTask:
    """Encode a job group into `.snac` files."""

    settings: EncodeSettings = EncodeSettings()
    model: ModelSettings = ModelSettings()
    batch_seconds: float | None = None  # audio per forward pass of short clips; 0: one clip at a time
    inputs: ClassVar[tuple[str, ...]] = AUDIO_SUFFIXES
    suffix: ClassVar[str] = ".snac"
    verb: ClassVar[str] = "encoding"

    def shaping(self) -> dict[str, Any]:
        """What changes the codes, and so the stamp (the device and inference windows do not)."""
        s = self.settings
        return {"model": model_id(self.model.name or DEFAULT_MODEL), "precision": self.model.precision.value,
                "channels": s.channels.value, "normalize": s.normalize.value, "metadata": dict(s.metadata)}  # fmt: skip

    def existing(self, job: Job) -> Record | None:
        """A record for an output in the way: up to date (its stamp matches and it reads back whole), or not
        snac's (it is not a `.snac` file). None when the job is to run."""
        from snac_cli.format.container import read_snac

        if not os.path.lexists(job.target):
            return None
        try:
            snac = read_snac(job.target)
        except Exception:  # not a .snac file, or a damaged one, or a folder: not ours to replace
            return refused(job)
        if snac.metadata.get(SOURCE_KEY) != current_stamp(job, self.shaping()):
            return None
        return encoded_record(job, snac, "skipped")

    def groups(self, jobs: list[Job]) -> list[list[Job]]:
        from snac_cli.audio.reader import probe_seconds

        return groups_of(jobs, [probe_seconds(job.source) for job in jobs])

    def __call__(self, group: list[Job]) -> list[Record]:
        try:
            return self.encode(group)
        except Exception as e:  # the model does not load, or anything else that stops the whole group
            return [failed(job, e) for job in group]

    def encode(self, group: list[Job]) -> list[Record]:
        from snac_cli.audio.reader import probe_seconds
        from snac_cli.codec.coders import load_coder
        from snac_cli.codec.encoding import encode_clips, encode_file
        from snac_cli.format.container import read_snac, write_snac

        stamps = [current_stamp(job, self.shaping()) or "" for job in group]  # before reading: a change redoes
        if len(group) == 1 and (probe_seconds(group[0].source) or 0) > SHORT_SECONDS:
            job = group[0]
            try:
                job.target.parent.mkdir(parents=True, exist_ok=True)
                stamped = dataclasses.replace(self.settings, metadata={**self.settings.metadata, SOURCE_KEY: stamps[0]})
                encode_file(job.source, job.target, stamped, model=self.model)
                return [encoded_record(job, read_snac(job.target))]
            except Exception as e:
                return [failed(job, e)]
        rate = load_coder(self.model).facts.sample_rate
        limit = None if self.batch_seconds is None else round(self.batch_seconds * rate)
        sources: list[Any] = [job.source for job in group]
        results = encode_clips(sources, self.settings, model=self.model, limit=limit)
        records = []
        for job, result, source_stamp in zip(group, results, stamps, strict=True):
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


@dataclass(frozen=True)
class DecodeTask:
    """Decode a job group of `.snac` files into audio files."""

    settings: DecodeSettings = DecodeSettings()
    model: ModelSettings = ModelSettings()  # name None: the model each file names
    suffix: str = ".wav"  # the audio format written
    inputs: ClassVar[tuple[str, ...]] = (".snac",)
    verb: ClassVar[str] = "decoding"

    def shaping(self) -> dict[str, Any]:
        """What changes the audio, and so the stamp."""
        s = self.settings
        model = model_id(self.model.name) if self.model.name else None
        return {"model": model, "precision": self.model.precision.value, "sample_rate": s.sample_rate,
                "subtype": s.subtype.value if s.subtype else None, "seed": s.seed, "format": self.suffix,
                **({} if s.lookahead is None else {"lookahead": s.lookahead})}  # fmt: skip

    def existing(self, job: Job) -> Record | None:
        """A record for an output in the way: up to date (its stamp matches and it reads back whole), or not
        snac's (no snac comment tag). None when the job is to run."""
        from snac_cli.audio.writer import SNAC_TAG, comment_of, whole_duration

        if not os.path.lexists(job.target):
            return None
        comment = comment_of(job.target)
        if comment is None or not (comment == SNAC_TAG or comment.startswith(f"{SNAC_TAG} source=")):
            return refused(job)
        if comment != f"{SNAC_TAG} source={current_stamp(job, self.shaping())}":
            return None
        seconds = whole_duration(job.target)
        return None if seconds is None else Record(str(job.source), str(job.target), "skipped", seconds=seconds)

    def groups(self, jobs: list[Job]) -> list[list[Job]]:
        return [[job] for job in jobs]  # decoding is one file at a time

    def __call__(self, group: list[Job]) -> list[Record]:
        return [self.decode(job) for job in group]

    def decode(self, job: Job) -> Record:
        from snac_cli.audio.writer import SNAC_TAG
        from snac_cli.codec.decoding import decode_file

        try:
            comment = f"{SNAC_TAG} source={current_stamp(job, self.shaping())}"  # before reading: a change redoes
            job.target.parent.mkdir(parents=True, exist_ok=True)
            with open(job.source, "rb") as stream:
                seconds = decode_file(stream, job.target, self.settings, model=self.model, comment=comment)
        except Exception as e:  # any failure of one file is recorded, and the run goes on
            return failed(job, e)
        return Record(str(job.source), str(job.target), "ok", seconds=seconds)

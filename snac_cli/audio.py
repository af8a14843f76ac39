"""Audio in and out, block by block: read any libsndfile format (or WAV from a pipe), resample, write."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError, UsageError
from .files import atomic_output
from .wav import UnsupportedWav, WavStreamReader, is_wav, wav_header, wav_samples

BLOCK = 1 << 16  # frames per block read or written
SNAC_TAG = "snac-cli"  # the comment tag of every audio file snac writes: folder runs overwrite only these
FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF"}


@dataclass
class Audio:
    """Samples (channels, frames) as float32 at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def frames(self) -> int:
        return self.samples.shape[1]


class AudioReader:
    """An open audio input: rate, channels, length when known, and float32 blocks (channels, n).

    A path or a seekable file is read with libsndfile. A pipe carrying WAV is parsed as it arrives (the same
    samples libsndfile gives for the file); any other pipe, or any pipe when `spool` asks for a seekable
    input (to measure a gain over the whole of it first), is copied to a temporary file and read from there.
    A path that is not a regular file (a FIFO, `<(...)`, /dev/stdin) is read as the pipe it is.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, name: str | None = None, spool: bool = False):
        self.name = name or str(source)
        self._wav: WavStreamReader | None = None
        self._file: sf.SoundFile | None = None
        self._opened: list[BinaryIO] = []  # files this reader opened, closed with it
        self._rewind: Callable[[], BinaryIO] | None = None  # re-reads a seekable input parsed as WAV here
        try:
            self._open(source, spool)
        except BaseException:
            self.close()
            raise

    def _open(self, source: str | os.PathLike[str] | BinaryIO, spool: bool) -> None:
        if isinstance(source, (str, os.PathLike)):
            check_input_path(Path(source), self.name)
            if not stat.S_ISREG(os.stat(source).st_mode):
                source = self._own(open(source, "rb"))  # noqa: SIM115 - closed with the reader
        if isinstance(source, (str, os.PathLike)) or source.seekable():
            self._open_seekable(source)
            return
        head = read_up_to(source, 12)
        if not head:
            raise AudioError(f"{self.name}: no input (empty stream)")
        consumed = Recorded(Prefixed(head, source))
        if is_wav(head) and not spool:
            try:
                self._wav = WavStreamReader(consumed, self.name)  # type: ignore[arg-type]
                consumed.recording = False  # the header is parsed: the samples pass through, unkept
                self.sample_rate, self.channels, self.frames = (
                    self._wav.sample_rate,
                    self._wav.channels,
                    self._wav.frames,
                )
                return
            except UnsupportedWav:
                pass  # libsndfile may know the encoding: give it the whole stream as a file
        spooled = self._own(tempfile.TemporaryFile())  # noqa: SIM115 - closed with the reader
        spooled.write(consumed.recorded)  # what the WAV parser read, then the rest
        shutil.copyfileobj(consumed.stream, spooled)  # type: ignore[misc]
        spooled.seek(0)
        self._open_seekable(spooled)

    def _open_seekable(self, source: str | os.PathLike[str] | BinaryIO) -> None:
        try:
            self._file = sf.SoundFile(file_name(source) if isinstance(source, (str, os.PathLike)) else source)
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            raise AudioError(f"{self.name}: not a readable audio file ({describe(e)})") from None
        self.sample_rate, self.channels = self._file.samplerate, self._file.channels
        self.frames = self._file.frames if self._file.seekable() else None
        if self._file.format in ("WAV", "WAVEX") and self.frames == 0:  # a data size of 0: "to the end", as on a pipe
            self._file.close()
            self._file = None

            def rewind() -> BinaryIO:
                if isinstance(source, (str, os.PathLike)):
                    return self._own(open(source, "rb"))  # noqa: SIM115 - closed with the reader
                source.seek(0)
                return source

            self._rewind = rewind
            self._wav = WavStreamReader(rewind(), self.name)
            self.sample_rate, self.channels, self.frames = self._wav.sample_rate, self._wav.channels, None

    def _own(self, stream: BinaryIO) -> BinaryIO:
        self._opened.append(stream)
        return stream

    @property
    def seekable(self) -> bool:
        return (self._file is not None and self._file.seekable()) or self._rewind is not None

    def blocks(self, size: int = BLOCK) -> Iterator[np.ndarray]:
        """Blocks (channels, <= size) from the start (a seekable input) or the current position (a pipe);
        rejects NaN/Inf and empty inputs."""
        if self._file is not None and self.seekable:
            self._file.seek(0)
        if self._rewind is not None:
            self._wav = WavStreamReader(self._rewind(), self.name)
        source = self._wav.blocks(size) if self._wav is not None else self._sf_blocks(size)
        total = 0
        for block in source:
            if not np.isfinite(block).all():
                raise AudioError(f"{self.name}: contains NaN or infinite samples")
            total += block.shape[1]
            yield block
        if total == 0:
            raise AudioError(f"{self.name}: no audio samples")

    def _sf_blocks(self, size: int) -> Iterator[np.ndarray]:
        assert self._file is not None
        try:
            while len(data := self._file.read(size, dtype="float32", always_2d=True)):
                yield np.ascontiguousarray(data.T)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise AudioError(f"{self.name}: cannot decode the audio ({describe(e)})") from None

    def read(self) -> Audio:
        """The whole input in memory."""
        return Audio(np.concatenate(list(self.blocks()), axis=1), self.sample_rate)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        for stream in self._opened:
            stream.close()
        self._opened = []

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_name(path: str | os.PathLike[str]) -> bytes:
    """A path as libsndfile takes it: bytes, so that a name that is not UTF-8 still opens (soundfile would
    encode a str strictly)."""
    return os.fsencode(path)


def check_input_path(path: Path, name: str) -> None:
    """An input path names something readable: every way it cannot be read is an input error, named so."""
    if not path.exists():
        raise AudioError(f"{name}: no such file")
    if path.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{name}: cannot read it (permission denied)")
    if stat.S_ISREG(path.stat().st_mode) and path.stat().st_size == 0:
        raise AudioError(f"{name}: empty file")


def read_up_to(stream: BinaryIO, n: int) -> bytes:
    """Read n bytes, fewer only at the end of the stream (a pipe may deliver them in pieces)."""
    data = b""
    while len(data) < n and (piece := stream.read(n - len(data))):
        data += piece
    return data


class Recorded(io.RawIOBase):
    """A stream that keeps a copy of what was read from it (a header, to hand on if it must be re-read)."""

    def __init__(self, stream: BinaryIO | io.RawIOBase):
        self.stream, self.recorded, self.recording = stream, b"", True

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        if self.recording:
            self.recorded += data
        return data


class Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read: gives them back, then the rest."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = (self.head, b"") if n < 0 or n >= len(self.head) else (self.head[:n], self.head[n:])
            return out if n < 0 or len(out) == n else out + self.stream.read(n - len(out))
        return self.stream.read(n)


def describe(error: Exception) -> str:
    """libsndfile's message without the noise soundfile wraps around it."""
    message = str(getattr(error, "error_string", "") or error)
    return message.strip().rstrip(".")


def mix_to_mono(block: np.ndarray) -> np.ndarray:
    """Average the channels; mono passes untouched."""
    return block if block.shape[0] == 1 else block.mean(axis=0, keepdims=True, dtype=np.float32)


def resample_stream(blocks: Iterable[np.ndarray], rate: int, target: int, channels: int) -> Iterator[np.ndarray]:
    """Resample blocks (channels, n) with soxr's high-quality filter; the same rate passes untouched."""
    if rate == target:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, target, channels, dtype="float32", quality="HQ")
    given = made = 0
    for block in blocks:
        given += block.shape[1]
        out = stream.resample_chunk(np.ascontiguousarray(block.T))
        made += len(out)
        if len(out):
            yield np.ascontiguousarray(out.T)
    out = stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
    if len(out):
        yield np.ascontiguousarray(out.T)
    elif given and not made:  # a few samples downsampled to none: keep one, so that some audio is coded
        yield np.zeros((channels, 1), dtype=np.float32)


# What each format can hold through this libsndfile (measured with 1.2.2): past these it fails mid-write,
# and OGG at 384 kHz or with 256 channels crashes the process. (lowest rate, highest rate, most channels)
FORMAT_LIMITS = {"WAV": (1, 1 << 20, 1024), "AIFF": (1, 1 << 20, 1024), "FLAC": (1, 655350, 8),
                 "OGG": (1, 192000, 255), "MP3": (8000, 48000, 2)}  # fmt: skip
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)  # MPEG 1, 2 and 2.5


def output_format(path: str) -> str:
    """The libsndfile format for a file name's extension."""
    extension = Path(path).suffix.lower().lstrip(".")
    if extension not in FORMATS:
        raise UsageError(f"{path}: unknown output format; use .wav, .flac, .ogg, .mp3 or .aiff")
    return FORMATS[extension]


def file_subtype(fmt: str, subtype: str | None) -> str:
    """The libsndfile subtype for a format and the user's PCM_16 / PCM_24 / FLOAT choice (PCM_16 by default)."""
    if fmt in ("OGG", "MP3"):
        if subtype not in (None, "PCM_16"):
            raise UsageError(f"{fmt} is lossy: --subtype applies to WAV, FLAC and AIFF only")
        return "VORBIS" if fmt == "OGG" else "MPEG_LAYER_III"
    subtype = subtype or "PCM_16"
    if not sf.check_format(fmt, subtype):
        raise UsageError(f"{fmt} cannot hold {subtype} samples")
    return subtype


def check_output_format(path: str, subtype: str | None, rate: int | None = None, channels: int | None = None) -> None:
    """Refuse, before any work, audio that a file's format cannot hold: by its extension, sample format, rate
    and channel count (those known yet). `-` is WAV on stdout."""
    fmt = "WAV" if path == "-" else output_format(path)
    file_subtype(fmt, subtype)
    lowest, highest, most = FORMAT_LIMITS[fmt]
    if rate is not None and not (lowest <= rate <= highest and (fmt != "MP3" or rate in MP3_RATES)):
        rates = ", ".join(map(str, MP3_RATES)) if fmt == "MP3" else f"{lowest}-{highest}"
        raise UsageError(f"{path}: {fmt} cannot hold audio at {rate} Hz ({rates} Hz); use --sample-rate")
    if channels is not None and channels > most:
        raise UsageError(f"{path}: {fmt} holds at most {most} channels, not {channels}; use WAV")


def clipped(block: np.ndarray, subtype: str) -> np.ndarray:
    """Integer and lossy outputs cannot hold samples beyond full scale: clip them instead of wrapping."""
    return block if subtype == "FLOAT" else np.clip(block, -1.0, 1.0)


def write_stream(
    target: str | os.PathLike[str] | BinaryIO,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    subtype: str | None = None,
    frames: int | None = None,
    comment: str = SNAC_TAG,
) -> int:
    """Write blocks (channels, n) to a path (atomically, format from the extension, tagged with `comment`) or
    as WAV to a stream.

    `frames`, when known, goes into a streamed WAV header; otherwise its sizes say 'unknown'. Returns frames.
    """
    written = 0
    if not isinstance(target, (str, os.PathLike)):
        subtype = subtype or "PCM_16"
        target.write(wav_header(channels, sample_rate, subtype, frames))
        for block in blocks:
            target.write(wav_samples(block, subtype))
            written += block.shape[1]
        target.flush()
        return written
    fmt = output_format(str(target))
    subtype = file_subtype(fmt, subtype)
    with (
        atomic_output(Path(target)) as stream,
        sf.SoundFile(stream, "w", sample_rate, channels, subtype, format=fmt) as f,
    ):
        f.comment = comment
        for block in blocks:
            f.write(clipped(block, subtype).T)
            written += block.shape[1]
    return written


def comment_of(path: str | os.PathLike[str]) -> str | None:
    """An audio file's comment tag ("" when it has none), or None when it is no readable audio file."""
    try:
        with sf.SoundFile(file_name(path)) as f:
            return f.comment or ""
    except Exception:  # libsndfile raises several kinds, and a folder or a FIFO others
        return None


def whole_duration(path: str | os.PathLike[str]) -> float | None:
    """Read an audio file through: its duration in seconds, or None when it does not read back whole."""
    try:
        with sf.SoundFile(file_name(path)) as f:
            frames = sum(len(block) for block in f.blocks(BLOCK, dtype="float32"))
            return frames / f.samplerate if frames and frames == f.frames else None
    except Exception:
        return None

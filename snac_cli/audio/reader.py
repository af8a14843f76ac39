"""Reading audio block by block: any libsndfile format from a path or seekable file, WAV from a pipe."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from snac_cli.audio.wav import UnsupportedWav, WavStreamReader, is_wav
from snac_cli.errors import AudioError

BLOCK = 1 << 16  # samples (per channel) per block read or written
MAX_SAMPLE_RATE = 1 << 20  # the most a .snac header holds (format/header.py), refused before the model loads


@dataclass
class Audio:
    """Samples (channels, length) as float32 at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def length(self) -> int:
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
            if not 0 < self.sample_rate <= MAX_SAMPLE_RATE:
                raise AudioError(f"{self.name}: a sample rate of {self.sample_rate:,} Hz is past snac's limit of "
                                 f"{MAX_SAMPLE_RATE:,} Hz")  # fmt: skip
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
                self.sample_rate, self.channels, self.length = (
                    self._wav.sample_rate,
                    self._wav.channels,
                    self._wav.length,
                )
                return
            except UnsupportedWav:
                pass  # libsndfile may know the encoding: give it the whole stream as a file
        spooled = self._own(tempfile.TemporaryFile())  # noqa: SIM115 - closed with the reader
        spooled.write(consumed.recorded)  # what the WAV parser read, then the rest
        shutil.copyfileobj(consumed.stream, spooled)
        spooled.seek(0)
        self._open_seekable(spooled)

    def _open_seekable(self, source: str | os.PathLike[str] | BinaryIO) -> None:
        try:
            self._file = sf.SoundFile(file_name(source) if isinstance(source, (str, os.PathLike)) else source)
        except (sf.LibsndfileError, RuntimeError, TypeError) as e:
            raise AudioError(f"{self.name}: not a readable audio file ({reason(e)})") from None
        self.sample_rate, self.channels = self._file.samplerate, self._file.channels
        self.length = self._file.frames if self._file.seekable() else None
        if self._file.format in ("WAV", "WAVEX") and self.length == 0:  # a data size of 0: "to the end", as on a pipe
            self._file.close()
            self._file = None

            def rewind() -> BinaryIO:
                if isinstance(source, (str, os.PathLike)):
                    return self._own(open(source, "rb"))  # noqa: SIM115 - closed with the reader
                source.seek(0)
                return source

            self._rewind = rewind
            self._wav = WavStreamReader(rewind(), self.name)
            self.sample_rate, self.channels, self.length = self._wav.sample_rate, self._wav.channels, None

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
            raise AudioError(f"{self.name}: cannot decode the audio ({reason(e)})") from None

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


def probe_seconds(source: str | os.PathLike[str] | BinaryIO) -> float | None:
    """An input's duration from its header (a stream is read from where it stands), or None when it cannot
    be read: the encoding then says why."""
    try:
        info = sf.info(source if isinstance(source, io.IOBase) else file_name(source))  # type: ignore[arg-type]
    except Exception:  # libsndfile raises several kinds; encoding reports the reason
        return None
    return info.frames / info.samplerate if info.samplerate else None


def is_regular(path: str | os.PathLike[str]) -> bool:
    """A regular file (through symlinks): not a FIFO, socket or device, which could block a run or never end."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return True  # missing, unreadable or unnameable: the job itself reports why


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


def reason(error: Exception) -> str:
    """libsndfile's message without the noise soundfile wraps around it."""
    message = str(getattr(error, "error_string", "") or error)
    return message.strip().rstrip(".")

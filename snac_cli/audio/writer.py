"""Writing audio: files in any format libsndfile writes (atomically, tagged as snac's), or WAV on a stream."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from snac_cli.audio.ogg import copy_reproducibly
from snac_cli.audio.reader import BLOCK, file_name
from snac_cli.audio.wav import pcm_ints, wav_header, wav_samples
from snac_cli.errors import UsageError
from snac_cli.files import atomic_output

SNAC_TAG = "snac-cli"  # the comment tag of every audio file snac writes: folder runs overwrite only these
FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF"}


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


def file_samples(block: np.ndarray, subtype: str) -> np.ndarray:
    """A block (channels, n) as libsndfile is given it (n, channels): integers, made by `pcm_ints` as for
    streams, for PCM (24-bit in the top bits of int32, as libsndfile takes them), so that every format rounds
    alike; floats otherwise, clipped to full scale for lossy formats instead of wrapping."""
    if subtype == "PCM_16":
        return pcm_ints(block.T, 16).astype(np.int16)
    if subtype == "PCM_24":
        return pcm_ints(block.T, 24) << 8
    return block.T if subtype == "FLOAT" else np.clip(block, -1.0, 1.0).T


def write_stream(
    target: str | os.PathLike[str] | BinaryIO,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    *,
    subtype: str | None = None,
    length: int | None = None,
    comment: str = SNAC_TAG,
    raw: bool = False,
) -> int:
    """Write blocks (channels, n) to a path (atomically, format from the extension, tagged with `comment`) or
    as WAV to a stream.

    `length`, when known, goes into a streamed WAV header; otherwise its sizes say 'unknown'. `raw`: on a
    stream, 16-bit little-endian PCM without a header (for players such as aplay). Returns the samples (per
    channel) written.
    """
    written = 0
    if not isinstance(target, (str, os.PathLike)):  # a stream: each block goes out the moment it is final
        subtype = "PCM_16" if raw else subtype or "PCM_16"
        if not raw:
            target.write(wav_header(channels, sample_rate, subtype, length))
        for block in blocks:
            if block.shape[1]:
                target.write(wav_samples(block, subtype))
                target.flush()
                written += block.shape[1]
        target.flush()
        return written
    fmt = output_format(str(target))
    subtype = file_subtype(fmt, subtype)
    # Ogg goes through an anonymous scratch file first: libsndfile gives each stream a random serial, made
    # here one of the contents' (audio/ogg.py), so that the same audio gives the same file.
    ogg = fmt == "OGG"
    with (
        atomic_output(Path(target)) as stream,
        tempfile.TemporaryFile() if ogg else contextlib.nullcontext() as scratch,
    ):
        guarded = Guarded(scratch or stream)
        try:
            with sf.SoundFile(guarded, "w", sample_rate, channels, subtype, format=fmt) as f:
                f.comment = comment
                for block in blocks:
                    f.write(file_samples(block, subtype))
                    written += block.shape[1]
                    guarded.check()
        except (AssertionError, RuntimeError):  # soundfile's own view of a short write: the cause is ours
            guarded.check()
            raise
        guarded.check()  # FLAC, Ogg and MP3 say nothing of a failed write
        if scratch is not None:
            scratch.seek(0)
            copy_reproducibly(scratch, stream)
    return written


class Guarded:
    """A file that libsndfile writes through Python callbacks, keeping a write's error instead of raising it
    inside the callback (where cffi printed its traceback and libsndfile went on: a full disk gave an
    AssertionError, or FLAC and MP3 7 to 2,585 traceback lines); `check` raises it as the OSError it was."""

    def __init__(self, file: BinaryIO):
        self.file = file
        self.error: OSError | None = None
        self.read, self.flush = file.read, file.flush

    def write(self, data: bytes) -> int:
        return self.kept(lambda: self.file.write(data), 0)  # 0: a short write, and libsndfile stops

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.kept(lambda: self.file.seek(offset, whence), -1)  # a buffered file flushes to seek

    def tell(self) -> int:
        return self.kept(self.file.tell, -1)

    def kept(self, call: Callable[[], int], failed: int) -> int:
        if self.error is None:
            try:
                return call()
            except OSError as e:
                self.error = e
        return failed

    def check(self) -> None:
        if self.error is not None:
            raise OSError(self.error.errno, self.error.strerror)


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
            length = sum(len(block) for block in f.blocks(BLOCK, dtype="float32"))
            return length / f.samplerate if length and length == f.frames else None
    except Exception:
        return None

"""WAV on pipes: a streaming reader that needs no seeking and a writer for headers of unknown length.

libsndfile must seek, so a WAV arriving on stdin (where sox and ffmpeg may write 0 or 0xFFFFFFFF as
its size) is parsed here, block by block.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from snac_cli.errors import AudioError

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
UNKNOWN_SIZE = 0xFFFFFFFF
MAX_FMT_CHUNK = 1 << 16
MAX_CHANNELS = 1024  # libsndfile's own limit
# The last 14 bytes of a WAVE_FORMAT_EXTENSIBLE sub-format GUID (KSDATAFORMAT_SUBTYPE_*): its first 2 bytes
# are then the format tag. libsndfile refuses other GUIDs, and so does this reader.
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
# (format tag, bytes per sample) -> numpy dtype; "i3" is 24-bit PCM, widened by hand.
SAMPLE_TYPES = {(PCM, 1): "u1", (PCM, 2): "<i2", (PCM, 3): "i3", (PCM, 4): "<i4", (IEEE_FLOAT, 4): "<f4",
                (IEEE_FLOAT, 8): "<f8"}  # fmt: skip


class UnsupportedWav(AudioError):
    """A WAV encoding this reader does not decode (mu-law, ADPCM, ...): libsndfile may, given the whole file."""


def is_wav(head: bytes) -> bool:
    """Whether the first 12 bytes of a stream are a RIFF/WAVE header."""
    return len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"


class WavStreamReader:
    """Reads PCM (8-32 bit) or float WAV from a stream without seeking, giving the samples libsndfile gives
    for the same bytes as a file: the data chunk's declared size is obeyed (what follows it is ignored, and
    a file cut short ends where it ends), except that a size of 0 or 0xFFFFFFFF, as programs writing to a
    pipe leave it, means "to the end". `length` is None when the header does not say."""

    def __init__(self, stream: BinaryIO, name: str):
        self.stream, self.name = stream, name
        riff = self._read(12)
        if not is_wav(riff):
            raise AudioError(f"{name}: not a WAV stream")
        fmt, long_size = None, None
        while True:
            chunk_id, size = struct.unpack("<4sI", self._read(8))
            if chunk_id in (b"fmt ", b"ds64"):
                if size > MAX_FMT_CHUNK:  # libsndfile judges what this reader will not hold in memory
                    raise UnsupportedWav(f"{name}: a WAV header chunk of {size:,} bytes")
                body = self._read(size + size % 2)
                if chunk_id == b"fmt ":
                    fmt = body
                elif len(body) >= 16:  # RF64: the real data size, when the data chunk's says 0xFFFFFFFF
                    long_size = struct.unpack("<Q", body[8:16])[0]
            elif chunk_id == b"data":
                break
            else:
                self._skip(size + size % 2)
        if fmt is None or len(fmt) < 16:  # libsndfile may still find one after the data
            raise UnsupportedWav(f"{name}: WAV stream without a format chunk before its data")
        tag, self.channels, self.sample_rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
        if tag == EXTENSIBLE:
            tag = struct.unpack("<H", fmt[24:26])[0] if len(fmt) >= 40 and fmt[26:40] == GUID_TAIL else -1
        width = block_align // self.channels if self.channels else 0  # the container: 12-bit samples take 2 bytes
        if (
            (tag, width) not in SAMPLE_TYPES
            or not 0 < self.channels <= MAX_CHANNELS
            or block_align != width * self.channels
            or not 0 < bits <= 8 * width
            or not self.sample_rate
        ):
            raise UnsupportedWav(
                f"{name}: unsupported WAV encoding (format {tag}, {bits} bits, {self.channels} channels)"
            )
        self.kind, self.width, self.frame_bytes = SAMPLE_TYPES[(tag, width)], width, block_align
        if size == UNKNOWN_SIZE and long_size is not None:
            size = long_size
        known = size not in (0, UNKNOWN_SIZE)
        self.remaining: int | None = size if known else None  # bytes of sample data still due
        self.length = size // self.frame_bytes if known else None

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n and (piece := self.stream.read(n - len(data))):  # a pipe may deliver it in pieces
            data += piece
        if len(data) < n:
            raise AudioError(f"{self.name}: truncated WAV header")
        return data

    def _skip(self, n: int) -> None:
        while n:
            piece = self.stream.read(min(n, 1 << 16))
            if not piece:
                raise AudioError(f"{self.name}: truncated WAV header")
            n -= len(piece)

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        """Float32 blocks (channels, <= frames) until the sample data ends; a partial last frame is dropped."""
        leftover = b""
        while self.remaining is None or self.remaining > 0:
            want = frames * self.frame_bytes - len(leftover)
            if self.remaining is not None:
                want = min(want, self.remaining)
            data = self.stream.read(want)
            if not data:
                break
            if self.remaining is not None:
                self.remaining -= len(data)
            data = leftover + data
            whole = len(data) - len(data) % self.frame_bytes
            data, leftover = data[:whole], data[whole:]
            if data:
                yield self.decode(data)

    def decode(self, data: bytes) -> np.ndarray:
        if self.kind == "i3":  # 24-bit: widen to int32 through a byte view, then scale
            raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            ints = (raw[:, 0] << 8 | raw[:, 1] << 16 | raw[:, 2] << 24) >> 8
            samples = ints.astype(np.float32) / 2**23
        else:
            values = np.frombuffer(data, dtype=self.kind)
            if self.kind == "u1":
                samples = (values.astype(np.float32) - 128) / 128
            elif self.kind.startswith("<i"):
                samples = values.astype(np.float32) / 2 ** (8 * self.width - 1)
            else:
                with np.errstate(over="ignore"):  # doubles past float32's range become inf, refused as such
                    samples = values.astype(np.float32)
        return samples.reshape(-1, self.channels).T


def wav_header(channels: int, sample_rate: int, subtype: str, frames: int | None) -> bytes:
    """A canonical 44-byte WAV header; sizes are 0xFFFFFFFF when `frames` is unknown (as sox and ffmpeg do)."""
    tag, width = (IEEE_FLOAT, 4) if subtype == "FLOAT" else (PCM, {"PCM_16": 2, "PCM_24": 3}[subtype])
    data = UNKNOWN_SIZE if frames is None else min(frames * channels * width, UNKNOWN_SIZE - 36)
    riff = UNKNOWN_SIZE if frames is None else data + 36
    fmt = struct.pack(
        "<HHIIHH", tag, channels, sample_rate, sample_rate * channels * width, channels * width, 8 * width
    )
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data)
    )


PCM_BITS = {"PCM_16": 16, "PCM_24": 24}  # the integer sample formats snac writes


def pcm_ints(samples: np.ndarray, bits: int) -> np.ndarray:
    """Float samples as `bits`-bit integers (int32, same shape): the one float -> integer conversion of every
    writer (files of every format, streams, raw). Scaled by 2**(bits-1), rounded to the nearest (half to
    even) and clipped, so that integers read back as x / 2**(bits-1), as every reader here does, come back
    exactly."""
    full = 2 ** (bits - 1)
    return np.clip(np.round(samples * full), -full, full - 1).astype(np.int32)


def wav_samples(block: np.ndarray, subtype: str) -> bytes:
    """Interleaved little-endian sample bytes of a float block (channels, n), clipped for PCM."""
    frames = block.T
    if subtype == "FLOAT":
        return frames.astype("<f4").tobytes()
    ints = pcm_ints(frames, PCM_BITS[subtype]).astype("<i4")  # (n, channels)
    if subtype == "PCM_16":
        return ints.astype("<i2").tobytes()
    ints = np.ascontiguousarray(ints)
    return ints.view(np.uint8).reshape(*ints.shape, 4)[..., :3].tobytes()

"""The `.snac` container: a header, then multi-scale codes bit-packed in checksummed container chunks, then
an end record (numpy only, no torch).

The layout is specified byte for byte in docs/format.md. A reader never trusts a size it reads for an
allocation: every size is bounded, and payloads are read in pieces as the bytes arrive.
"""

from __future__ import annotations

import io
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from snac_cli.errors import ContainerError
from snac_cli.files import atomic_output
from snac_cli.format.checks import check_length
from snac_cli.format.header import (
    MAX_CHANNELS,
    MAX_CHUNK_FRAMES,
    MAX_LENGTH,
    MAX_ORIGINAL_CHANNELS,
    U32,
    VERSION,
    ByteReader,
    SnacFile,
    SnacHeader,
    check_metadata,
    encode_header,
    read_header,
    read_varint,
    varint,
)

__all__ = ["MAX_CHANNELS", "MAX_ORIGINAL_CHANNELS", "VERSION", "SnacFile", "SnacHeader", "check_metadata"]

CHUNK_FRAMES = 512  # frames per chunk that a writer flushes by default (~44 s at 24 kHz)


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integers below 2**bits into a big-endian bit stream, zero-padded to a byte."""
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint32)
    bit_matrix = (codes.astype(np.uint32)[:, None] >> shifts) & 1  # (n, bits)
    return np.packbits(bit_matrix.astype(np.uint8)).tobytes()


def unpack_codes(data: bytes, count: int, bits: int) -> np.ndarray:
    """Inverse of `pack_codes`: the first `count` codes of the stream, as int64."""
    bit_matrix = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=count * bits).reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.int64)
    return bit_matrix.astype(np.int64) @ weights


def chunk_payload_size(h: SnacHeader, frames: int) -> int:
    """Bytes of packed codes in a chunk of `frames` frames."""
    return math.ceil(frames * sum(h.codes_per_frame) * h.channels * h.bits / 8)


class SnacWriter:
    """Writes a `.snac` stream: the header now, then chunks as codes arrive, the end record on `close`."""

    def __init__(self, stream: BinaryIO, header: SnacHeader, chunk_frames: int = CHUNK_FRAMES):
        if not 0 < chunk_frames <= MAX_CHUNK_FRAMES:
            raise ValueError(f"chunk_frames must be in 1..{MAX_CHUNK_FRAMES}")
        self.stream, self.header, self.chunk_frames = stream, header, chunk_frames
        self.pending: list[list[np.ndarray]] = []  # per scale, arrays (channels, n) not yet written
        self.frames = 0
        self.crc = 0
        self.emit(encode_header(header))

    def emit(self, data: bytes) -> None:
        self.stream.write(data)
        self.crc = zlib.crc32(data, self.crc)

    def write(self, codes: list[np.ndarray]) -> None:
        """Add codes for whole frames: one array (channels, frames * codes_per_frame[i]) per scale."""
        h = self.header
        if len(codes) != len(h.vq_strides):
            raise ValueError(f"expected {len(h.vq_strides)} scales of codes, got {len(codes)}")
        frames = codes[0].shape[-1] // h.codes_per_frame[0]
        for c, per_frame in zip(codes, h.codes_per_frame, strict=True):
            if c.ndim != 2 or c.shape != (h.channels, frames * per_frame):
                raise ValueError(f"codes of shape {c.shape} where ({h.channels}, {frames * per_frame}) was due")
            if c.size and (c.min() < 0 or c.max() >= h.codebook_size):
                raise ValueError(f"codes outside 0..{h.codebook_size - 1}")
        self.pending.append([np.asarray(c) for c in codes])
        while self.pending_frames() >= self.chunk_frames:
            self.flush(self.chunk_frames)

    def pending_frames(self) -> int:
        return sum(scales[0].shape[-1] for scales in self.pending) // self.header.codes_per_frame[0]

    def flush(self, frames: int | None = None) -> None:
        """Write up to `frames` pending frames (all by default) as one chunk."""
        if not self.pending:
            return
        # One part pending (the rest of a long write) is taken as it is: concatenating it again for each chunk
        # made writing n frames cost n^2 / chunk (7 M tokens took 20 s).
        scales = (
            self.pending[0]
            if len(self.pending) == 1
            else [np.concatenate(p, axis=-1) for p in zip(*self.pending, strict=True)]
        )
        available = scales[0].shape[-1] // self.header.codes_per_frame[0]
        frames = min(frames or available, available)
        if frames == 0:  # a chunk of no frames would read as the end record
            self.pending = []
            return
        cuts = [frames * per_frame for per_frame in self.header.codes_per_frame]
        # Channel-major, then scale: all codes of channel 0 (coarsest first), then channel 1, ...
        flat = np.concatenate(
            [s[ch, :cut] for ch in range(self.header.channels) for s, cut in zip(scales, cuts, strict=True)]
        )
        body = varint(frames) + pack_codes(flat, self.header.bits)
        self.emit(body + U32.pack(zlib.crc32(body)))
        self.stream.flush()  # a reader at the other end of a pipe can decode this chunk now
        self.frames += frames
        rest = [s[:, cut:] for s, cut in zip(scales, cuts, strict=True)]
        self.pending = [rest] if rest[0].shape[-1] else []

    def close(self, original_length: int) -> None:
        """Flush what is pending and write the end record, which carries the original length."""
        self.flush()
        self.emit(b"\x00" + varint(original_length) + varint(self.frames))
        self.stream.write(U32.pack(self.crc))


def write_snac(target: str | os.PathLike[str] | BinaryIO, snac: SnacFile) -> None:
    """Write a whole `SnacFile` to a path (atomically) or a binary file object."""
    if isinstance(target, (str, os.PathLike)):
        with atomic_output(Path(target)) as stream:
            write_snac(stream, snac)
        return
    writer = SnacWriter(target, snac.header)
    writer.write(snac.codes)
    writer.close(snac.original_length)


def to_bytes(snac: SnacFile) -> bytes:
    """The `.snac` file's bytes."""
    buffer = io.BytesIO()
    write_snac(buffer, snac)
    return buffer.getvalue()


# ---- reading -------------------------------------------------------------------------------------------


class SnacReader:
    """Reads a `.snac` stream: `header` at once, then `chunks()` one verified chunk at a time."""

    def __init__(self, stream: BinaryIO):
        self._reader = ByteReader(stream)
        self.header = read_header(self._reader)
        self.original_length: int | None = None  # known once `chunks()` has reached the end record
        self.frames = 0

    def chunks(self) -> Iterator[list[np.ndarray]]:
        """Yield each chunk's codes, per scale (channels, n_i), after checking its checksum."""
        h, r = self.header, self._reader
        while True:
            frames, raw = read_varint(r, "chunk header", MAX_CHUNK_FRAMES)
            if frames == 0:
                break
            payload = r.read(chunk_payload_size(h, frames), "chunk")
            body_crc = zlib.crc32(payload, zlib.crc32(raw))
            if U32.unpack(r.read(4, "chunk"))[0] != body_crc:
                raise ContainerError(f"corrupted chunk at frame {self.frames}: checksum mismatch")
            counts = [frames * per_frame for per_frame in h.codes_per_frame]
            flat = unpack_codes(payload, sum(counts) * h.channels, h.bits)
            if flat.size and flat.max() >= h.codebook_size:
                raise ContainerError(f"corrupted chunk at frame {self.frames}: code out of range")
            per_channel = flat.reshape(h.channels, sum(counts))
            self.frames += frames
            yield np.split(per_channel, np.cumsum(counts)[:-1], axis=1)
        length, _ = read_varint(r, "end record", MAX_LENGTH)
        total, _ = read_varint(r, "end record", MAX_LENGTH)
        crc = r.crc
        if U32.unpack(r.read(4, "end record"))[0] != crc:
            raise ContainerError("corrupted file: whole-file checksum mismatch")
        if total != self.frames:
            raise ContainerError(f"corrupted file: the end record counts {total} frames, the chunks {self.frames}")
        if r.stream.read(1):
            raise ContainerError("trailing bytes after the end of the .snac data")
        check_length(h, length, total)  # as far as the format alone can: the model's facts check it exactly
        self.original_length = length


def read_snac(source: str | os.PathLike[str] | BinaryIO | bytes) -> SnacFile:
    """Read and verify a whole `.snac` file from a path, bytes or a binary file object."""
    if isinstance(source, bytes):
        return read_snac(io.BytesIO(source))
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as stream:
            return read_snac(stream)
    reader = SnacReader(source)
    chunks = list(reader.chunks())
    h = reader.header
    codes = [
        np.concatenate(parts, axis=1) if parts else np.zeros((h.channels, 0), dtype=np.int64)
        for parts in (zip(*chunks, strict=True) if chunks else [[]] * len(h.vq_strides))
    ]
    assert reader.original_length is not None
    return SnacFile(**vars(h), original_length=reader.original_length, codes=codes)

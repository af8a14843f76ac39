"""The `.snac` file format: multi-scale codes, bit-packed in checksummed chunks (numpy only, no torch).

The layout is specified byte for byte in docs/format.md. A reader never trusts a size it reads for an
allocation: every size is bounded, and payloads are read in pieces as the bytes arrive.
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from snac_cli import __version__
from snac_cli.errors import ContainerError
from snac_cli.files import atomic_output

MAGIC = b"SNAC"
VERSION = 1
CHUNK_FRAMES = 512  # frames per chunk that a writer flushes by default (~44 s at 24 kHz)

# Bounds on what a header may claim; anything beyond is rejected before it is used.
MAX_CHUNK_FRAMES = 1 << 16
MAX_CHANNELS = 64  # coded channels
MAX_ORIGINAL_CHANNELS = 1024  # the input's (libsndfile's limit), mixed down to one coded channel
MAX_SCALES = 16
MAX_STRIDE = 1 << 10
MAX_CODEBOOK_SIZE = 1 << 24
MAX_STRING = 4096
MAX_METADATA = 256
MAX_METADATA_BYTES = 48 << 10  # all keys and values: the rest of a header (two strings of MAX_STRING) fits 64 KiB
MAX_LENGTH = 1 << 48
READ_PIECE = 1 << 20

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_F32 = struct.Struct("<f")


@dataclass
class SnacHeader:
    """What a `.snac` file says about its codes, before the codes themselves."""

    model: str  # short name, Hub repo id or local folder of the model that made the codes
    fingerprint: str  # 8 hex digits identifying the model's config
    sample_rate: int  # the model's
    original_sample_rate: int
    original_channels: int
    channels: int  # coded channels: 1 when the input was mixed down to mono
    codebook_size: int
    vq_strides: tuple[int, ...]  # coarsest first
    gain: float = 1.0  # applied to the audio before encoding; decoding divides by it
    tool_version: str = __version__
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vq_strides = tuple(int(s) for s in self.vq_strides)

    @property
    def bits(self) -> int:
        """Bits per packed code."""
        return max(1, math.ceil(math.log2(self.codebook_size)))

    @property
    def codes_per_frame(self) -> tuple[int, ...]:
        """Codes per frame at each scale, per channel. A frame is lcm(strides) latent steps: for the
        official models, whose strides each divide the first, that is one coarsest code."""
        steps = math.lcm(*self.vq_strides)
        return tuple(steps // s for s in self.vq_strides)


@dataclass
class SnacFile(SnacHeader):
    """A whole `.snac` file: its header, the original length and the codes.

    `codes` holds one integer array per scale, shape (channels, frames_i), coarsest first.
    """

    original_length: int = 0  # samples per channel at the original sample rate
    codes: list[np.ndarray] = field(default_factory=list)

    @property
    def frames(self) -> int:
        """Frames (lcm(strides) latent steps each; one coarsest code for the official models)."""
        return self.codes[0].shape[-1] // self.codes_per_frame[0] if self.codes else 0

    @property
    def header(self) -> SnacHeader:
        return SnacHeader(**{k: getattr(self, k) for k in SnacHeader.__dataclass_fields__})


# ---- writing -------------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError(f"varint of a negative number: {value}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def text(value: str) -> bytes:
    data = value.encode("utf-8")
    if len(data) > MAX_STRING:
        raise ValueError(f"string longer than {MAX_STRING} bytes: {value[:40]!r}...")
    return varint(len(data)) + data


def encode_header(h: SnacHeader) -> bytes:
    """The header's bytes, magic to CRC."""
    check_header(h)
    fields = b"".join(
        [
            text(h.model),
            bytes.fromhex(h.fingerprint),
            varint(h.sample_rate),
            varint(h.original_sample_rate),
            varint(h.original_channels),
            varint(h.channels),
            varint(h.codebook_size),
            varint(len(h.vq_strides)),
            *(varint(s) for s in h.vq_strides),
            _F32.pack(h.gain),
            text(h.tool_version),
            varint(len(h.metadata)),
            *(text(k) + text(v) for k, v in h.metadata.items()),
        ]
    )
    if len(fields) > 0xFFFF:
        raise ValueError("header larger than 64 KiB (too much metadata)")
    head = MAGIC + bytes([VERSION]) + _U16.pack(len(fields)) + fields
    return head + _U32.pack(zlib.crc32(head))


def check_header(h: SnacHeader) -> None:
    """Reject headers outside the format's bounds, for writers and readers alike."""
    problems = []
    if len(h.fingerprint) != 8 or any(c not in "0123456789abcdef" for c in h.fingerprint):
        problems.append(f"fingerprint {h.fingerprint!r} is not 8 hex digits")
    if not (0 < h.sample_rate <= 1 << 20 and 0 < h.original_sample_rate <= 1 << 20):
        problems.append("sample rate out of range")
    if not (0 < h.channels <= MAX_CHANNELS and 0 < h.original_channels <= MAX_ORIGINAL_CHANNELS):
        problems.append("channel count out of range")
    if h.channels not in (1, h.original_channels):
        problems.append(f"{h.channels} coded channels for {h.original_channels} original ones")
    if not 1 < h.codebook_size <= MAX_CODEBOOK_SIZE:
        problems.append(f"codebook size {h.codebook_size} out of range")
    s = h.vq_strides
    if not (0 < len(s) <= MAX_SCALES and all(0 < x <= MAX_STRIDE for x in s) and math.lcm(*s) <= MAX_STRIDE):
        problems.append(f"strides {s} out of range (1..{MAX_STRIDE}, and so their lcm)")
    if not math.isfinite(h.gain) or h.gain <= 0:
        problems.append(f"gain {h.gain} is not a positive number")
    try:
        check_metadata(h.metadata)
    except ValueError as e:
        problems.append(str(e))
    if problems:
        raise ContainerError("invalid header: " + "; ".join(problems))


def check_metadata(metadata: dict[str, str]) -> None:
    """Metadata fits the format: at most MAX_METADATA entries of UTF-8 text, each string and all of them
    together within their byte limits. Raises ValueError saying what does not fit."""
    if len(metadata) > MAX_METADATA:
        raise ValueError(f"at most {MAX_METADATA} metadata entries, not {len(metadata)}")
    total = 0
    for text_ in (t for pair in metadata.items() for t in pair):
        try:
            size = len(text_.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError(f"metadata {text_[:40]!r} is not UTF-8 text") from None
        if size > MAX_STRING:
            raise ValueError(f"metadata {text_[:40]!r}... is {size:,} bytes, over {MAX_STRING:,}")
        total += size
    if total > MAX_METADATA_BYTES:
        raise ValueError(f"metadata of {total:,} bytes in all, over {MAX_METADATA_BYTES:,}")


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
        scales = [np.concatenate(parts, axis=-1) for parts in zip(*self.pending, strict=True)]
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
        self.emit(body + _U32.pack(zlib.crc32(body)))
        self.stream.flush()  # a reader at the other end of a pipe can decode this chunk now
        self.frames += frames
        rest = [s[:, cut:] for s, cut in zip(scales, cuts, strict=True)]
        self.pending = [rest] if rest[0].shape[-1] else []

    def close(self, original_length: int) -> None:
        """Flush what is pending and write the end record, which carries the original length."""
        self.flush()
        self.emit(b"\x00" + varint(original_length) + varint(self.frames))
        self.stream.write(_U32.pack(self.crc))


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


class _Reader:
    """Reads exact byte counts from a stream, keeping a running CRC32 of everything read."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.crc = 0

    def read(self, n: int, what: str) -> bytes:
        pieces, remaining = [], n
        while remaining:
            piece = self.stream.read(min(remaining, READ_PIECE))  # never asks for more than a bounded piece
            if not piece:
                raise ContainerError(f"truncated file: it ends inside the {what}")
            pieces.append(piece)
            remaining -= len(piece)
        data = b"".join(pieces)
        self.crc = zlib.crc32(data, self.crc)
        return data


class _Fields:
    """Parses the header's fields from bytes already read, with bounds on every value."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ContainerError("corrupted header: fields run past its end")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def varint(self, limit: int) -> int:
        value = shift = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift > 63:
                raise ContainerError("corrupted header: a number is too long")
        if value > limit:
            raise ContainerError(f"corrupted header: {value} exceeds {limit}")
        return value

    def text(self) -> str:
        try:
            return self.take(self.varint(MAX_STRING)).decode("utf-8")
        except UnicodeDecodeError:
            raise ContainerError("corrupted header: a string is not UTF-8") from None


def read_varint(reader: _Reader, what: str, limit: int) -> tuple[int, bytes]:
    """A varint straight from the stream: (value, its bytes)."""
    raw = b""
    while True:
        byte = reader.read(1, what)
        raw += byte
        if not byte[0] & 0x80:
            break
        if len(raw) > 9:
            raise ContainerError(f"corrupted file: overlong number in the {what}")
    value = _Fields(raw).varint(limit)
    return value, raw


def read_header(reader: _Reader) -> SnacHeader:
    magic = reader.stream.read(4)
    reader.crc = zlib.crc32(magic)
    if magic != MAGIC:
        raise ContainerError("not a .snac file (wrong magic bytes)" if magic else "empty file: not a .snac file")
    version = reader.read(1, "header")[0]
    if version != VERSION:
        raise ContainerError(f"unsupported .snac format version {version} (this snac reads version {VERSION})")
    size = _U16.unpack(reader.read(2, "header"))[0]
    fields = _Fields(reader.read(size, "header"))
    crc = reader.crc
    if _U32.unpack(reader.read(4, "header"))[0] != crc:
        raise ContainerError("corrupted header: checksum mismatch")
    header = SnacHeader(
        model=fields.text(),
        fingerprint=fields.take(4).hex(),
        sample_rate=fields.varint(1 << 20),
        original_sample_rate=fields.varint(1 << 20),
        original_channels=fields.varint(MAX_ORIGINAL_CHANNELS),
        channels=fields.varint(MAX_CHANNELS),
        codebook_size=fields.varint(MAX_CODEBOOK_SIZE),
        vq_strides=tuple(fields.varint(MAX_STRIDE) for _ in range(fields.varint(MAX_SCALES))),
        gain=_F32.unpack(fields.take(4))[0],
        tool_version=fields.text(),
        metadata={fields.text(): fields.text() for _ in range(fields.varint(MAX_METADATA))},
    )
    check_header(header)
    return header


class SnacReader:
    """Reads a `.snac` stream: `header` at once, then `chunks()` one verified chunk at a time."""

    def __init__(self, stream: BinaryIO):
        self._reader = _Reader(stream)
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
            if _U32.unpack(r.read(4, "chunk"))[0] != body_crc:
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
        if _U32.unpack(r.read(4, "end record"))[0] != crc:
            raise ContainerError("corrupted file: whole-file checksum mismatch")
        if total != self.frames:
            raise ContainerError(f"corrupted file: the end record counts {total} frames, the chunks {self.frames}")
        if r.stream.read(1):
            raise ContainerError("trailing bytes after the end of the .snac data")
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

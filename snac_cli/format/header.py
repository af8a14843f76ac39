"""The `.snac` header: what a file's codes are (model, rates, channels, codebooks, gain, metadata), encoded
and read back with a bound on every field (docs/format.md). Numpy only, no torch."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from snac_cli import __version__
from snac_cli.errors import ContainerError

MAGIC = b"SNAC"
VERSION = 1

# Bounds on what a header may claim; anything beyond is rejected before it is used.
MAX_CHUNK_FRAMES = 1 << 16
MAX_CHANNELS = 64  # coded channels
MIN_GAIN = 2.0**-126  # the least normal float32: decoded audio (within +-1) divided by it stays a float32
MAX_ORIGINAL_CHANNELS = 1024  # the input's (libsndfile's limit), mixed down to one coded channel
MAX_SCALES = 16
MAX_STRIDE = 1 << 10
MAX_CODEBOOK_SIZE = 1 << 24
MAX_STRING = 4096
MAX_METADATA = 256
MAX_METADATA_BYTES = 48 << 10  # all keys and values: the rest of a header (two strings of MAX_STRING) fits 64 KiB
MAX_LENGTH = 1 << 48
READ_PIECE = 1 << 20

U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
F32 = struct.Struct("<f")


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
            F32.pack(h.gain),
            text(h.tool_version),
            varint(len(h.metadata)),
            *(text(k) + text(v) for k, v in h.metadata.items()),
        ]
    )
    if len(fields) > 0xFFFF:
        raise ValueError("header larger than 64 KiB (too much metadata)")
    head = MAGIC + bytes([VERSION]) + U16.pack(len(fields)) + fields
    return head + U32.pack(zlib.crc32(head))


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
    elif h.gain < MIN_GAIN:
        problems.append(f"gain {h.gain:.3g} is under {MIN_GAIN:.3g} (undone, it would take audio past float32)")
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


# ---- reading -------------------------------------------------------------------------------------------


class ByteReader:
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


class Fields:
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


def read_varint(reader: ByteReader, what: str, limit: int) -> tuple[int, bytes]:
    """A varint straight from the stream: (value, its bytes)."""
    raw = b""
    while True:
        byte = reader.read(1, what)
        raw += byte
        if not byte[0] & 0x80:
            break
        if len(raw) > 9:
            raise ContainerError(f"corrupted file: overlong number in the {what}")
    value = Fields(raw).varint(limit)
    return value, raw


def read_header(reader: ByteReader) -> SnacHeader:
    magic = reader.stream.read(4)
    reader.crc = zlib.crc32(magic)
    if magic != MAGIC:
        raise ContainerError("not a .snac file (wrong magic bytes)" if magic else "empty file: not a .snac file")
    version = reader.read(1, "header")[0]
    if version != VERSION:
        raise ContainerError(f"unsupported .snac format version {version} (this snac reads version {VERSION})")
    size = U16.unpack(reader.read(2, "header"))[0]
    fields = Fields(reader.read(size, "header"))
    crc = reader.crc
    if U32.unpack(reader.read(4, "header"))[0] != crc:
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
        gain=F32.unpack(fields.take(4))[0],
        tool_version=fields.text(),
        metadata={fields.text(): fields.text() for _ in range(fields.varint(MAX_METADATA))},
    )
    check_header(header)
    return header

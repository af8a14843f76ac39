"""Ogg files made reproducible: libsndfile gives every Ogg stream it writes a random serial number, so the same
audio never gave the same file twice. The serial is what differs (and each page's CRC, which covers it): it is
set here to one derived from the pages' contents, the CRCs made anew (RFC 3533)."""

from __future__ import annotations

import struct
import zlib

HEADER = struct.Struct("<4sBBqIIIB")  # capture "OggS", version, type, granule, serial, sequence, CRC, segments
SERIAL_AT, CRC_AT = 14, 22


REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))  # each byte's bits in reverse order


def ogg_crc(data: bytes | bytearray | memoryview) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, most significant bit first, no initial value, no final xor),
    through zlib's, its reflected twin: on bit-reversed bytes, its initial value and final xor cancelled by
    the CRC of as many zeros (a CRC is linear), and the result's bits reversed."""
    data = bytes(data)
    reflected = zlib.crc32(data.translate(REVERSED)) ^ zlib.crc32(bytes(len(data)))
    return int(f"{reflected:032b}"[::-1], 2)


def pages(data: bytes | bytearray) -> list[tuple[int, int]]:
    """(start, end) of each page; a ValueError for anything that is not a whole Ogg stream."""
    found, at = [], 0
    while at < len(data):
        if len(data) - at < HEADER.size or data[at : at + 4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {at}")
        segments = data[at + HEADER.size - 1]
        table = data[at + HEADER.size : at + HEADER.size + segments]
        end = at + HEADER.size + segments + sum(table)
        if len(table) < segments or end > len(data):
            raise ValueError(f"a truncated Ogg page at byte {at}")
        found.append((at, end))
        at = end
    return found


def reproducible(data: bytes) -> bytes:
    """The same Ogg stream with a serial number derived from its pages' contents (so the same audio gives the
    same bytes) and every page's CRC made anew. Streams of one serial only: libsndfile writes one."""
    out = bytearray(data)
    spans = pages(out)
    serials = {bytes(out[s + SERIAL_AT : s + SERIAL_AT + 4]) for s, _ in spans}
    if len(serials) != 1:
        return data  # chained or multiplexed: not libsndfile's, left as it is
    digest = 0
    for start, end in spans:
        digest = zlib.crc32(bytes(out[start + CRC_AT + 4 : end]), digest)
    serial = struct.pack("<I", digest)
    for start, end in spans:
        out[start + SERIAL_AT : start + SERIAL_AT + 4] = serial
        out[start + CRC_AT : start + CRC_AT + 4] = b"\0\0\0\0"
        out[start + CRC_AT : start + CRC_AT + 4] = struct.pack("<I", ogg_crc(out[start:end]))
    return bytes(out)

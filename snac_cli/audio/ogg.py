"""Ogg files made reproducible: libsndfile gives every Ogg stream it writes a random serial number, so the same
audio never gave the same file twice. The serial is what differs (and each page's CRC, which covers it): it is
set here to one derived from the pages' contents, the CRCs made anew (RFC 3533)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

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


def pages(stream: BinaryIO) -> Iterator[bytearray]:
    """Each page of an Ogg stream read from its current position; a ValueError for anything that is not a
    whole Ogg stream."""
    at = 0
    while head := stream.read(HEADER.size):
        if len(head) < HEADER.size or head[:4] != b"OggS":
            raise ValueError(f"not an Ogg page at byte {at}")
        table = stream.read(head[-1])
        body = stream.read(sum(table))
        if len(table) < head[-1] or len(body) < sum(table):
            raise ValueError(f"a truncated Ogg page at byte {at}")
        at += len(head) + len(table) + len(body)
        yield bytearray(head + table + body)


def copy_reproducibly(source: BinaryIO, target: BinaryIO) -> None:
    """Copy the Ogg stream in `source` (a seekable file, read twice) to `target` with a serial number derived
    from its pages' contents, so that the same audio gives the same bytes, and every page's CRC made anew.
    One serial only: libsndfile writes one logical stream."""
    digest, serials = 0, set()
    for page in pages(source):
        serials.add(bytes(page[SERIAL_AT : SERIAL_AT + 4]))
        digest = zlib.crc32(page[CRC_AT + 4 :], digest)
    if len(serials) > 1:
        raise ValueError("a multiplexed Ogg stream")
    source.seek(0)
    for page in pages(source):
        page[SERIAL_AT : SERIAL_AT + 4] = struct.pack("<I", digest)
        page[CRC_AT : CRC_AT + 4] = bytes(4)
        page[CRC_AT : CRC_AT + 4] = struct.pack("<I", ogg_crc(page))
        target.write(page)

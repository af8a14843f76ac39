"""Ogg outputs are reproducible (audio/ogg.py): libsndfile gives every Ogg stream a random serial number; snac
sets one derived from the contents and makes every page's CRC anew, so the same audio gives the same bytes,
which libsndfile (and any Ogg reader, which checks the CRCs) reads back."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf

from snac_cli.audio.ogg import copy_reproducibly, ogg_crc, pages
from snac_cli.audio.writer import write_stream
from tests.helpers.cli import invoke


def bitwise_crc(data: bytes) -> int:
    """Ogg's CRC as RFC 3533 defines it, a bit at a time: polynomial 0x04C11DB7, no reflection."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


@pytest.mark.parametrize("size", [0, 1, 27, 255, 4096])
def test_the_crc_is_oggs(size):
    data = os.urandom(size)
    assert ogg_crc(data) == bitwise_crc(data)


def test_the_same_audio_gives_the_same_ogg_file_that_reads_back(tmp_path):
    audio = (0.2 * np.random.default_rng(1).standard_normal((2, 30000))).astype(np.float32)
    files = []
    for name in ("a.ogg", "b.ogg"):
        write_stream(tmp_path / name, [audio[:, :10000], audio[:, 10000:]], 24000, 2)
        files.append((tmp_path / name).read_bytes())
    assert files[0] == files[1]
    raw = io.BytesIO()
    sf.write(raw, audio.T, 24000, format="OGG", subtype="VORBIS")
    assert raw.getvalue() != files[0]  # libsndfile's own serial was replaced
    for page in pages(io.BytesIO(files[0])):
        crc = int.from_bytes(page[22:26], "little")
        page[22:26] = bytes(4)
        assert crc == bitwise_crc(bytes(page))
    back, rate = sf.read(tmp_path / "a.ogg", dtype="float32")
    assert rate == 24000 and back.shape == (30000, 2)


def test_decoding_to_ogg_twice_gives_the_same_bytes(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", rate=16000, seconds=1.0)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", tiny).exit_code == 0
    for name in ("one.ogg", "two.ogg"):
        assert invoke("decode", tmp_path / "a.snac", tmp_path / name).exit_code == 0
    assert (tmp_path / "one.ogg").read_bytes() == (tmp_path / "two.ogg").read_bytes()


def test_a_stream_that_is_not_ogg_is_refused():
    with pytest.raises(ValueError, match="not an Ogg page"):
        copy_reproducibly(io.BytesIO(b"RIFF" + bytes(40)), io.BytesIO())

"""The .snac container: exact round trips, compact packing, and rejection of anything damaged or foreign."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snac_cli.errors import ContainerError
from snac_cli.format.container import (
    SnacFile,
    SnacHeader,
    SnacReader,
    SnacWriter,
    check_metadata,
    encode_header,
    pack_codes,
    read_snac,
    to_bytes,
    unpack_codes,
    write_snac,
)


def make_file(frames: int = 10, channels: int = 1, strides=(4, 2, 1), codebook_size: int = 4096, seed: int = 0):
    rng = np.random.default_rng(seed)
    header = dict(
        model="24khz", fingerprint="0123abcd", sample_rate=24000, original_sample_rate=44100,
        original_channels=channels, channels=channels, codebook_size=codebook_size, vq_strides=strides,
        gain=1.5, metadata={"speaker": "anna", "lang": "de"},
    )  # fmt: skip
    probe = SnacFile(**header)
    codes = [rng.integers(0, codebook_size, (channels, frames * k)) for k in probe.codes_per_frame]
    return SnacFile(**header, original_length=frames * 1000, codes=codes)


def assert_same(a: SnacFile, b: SnacFile) -> None:
    assert a.header == b.header
    assert a.original_length == b.original_length
    assert len(a.codes) == len(b.codes)
    for x, y in zip(a.codes, b.codes, strict=True):
        assert x.shape == y.shape and np.array_equal(x, y)


@st.composite
def snac_files(draw):
    strides = draw(st.sampled_from([(4, 2, 1), (8, 4, 2, 1), (3, 2, 1), (1,)]))
    bits = draw(st.integers(1, 16))
    return make_file(
        frames=draw(st.integers(0, 40)),
        channels=draw(st.integers(1, 3)),
        strides=strides,
        codebook_size=draw(st.integers(2 ** (bits - 1) + 1, 2**bits)) if bits > 1 else 2,
        seed=draw(st.integers(0, 1000)),
    )


@settings(max_examples=60, deadline=None)
@given(snac_files())
def test_random_codes_round_trip_exactly(snac):
    assert_same(read_snac(to_bytes(snac)), snac)


@settings(max_examples=30, deadline=None)
@given(snac_files(), st.integers(1, 7))
def test_chunked_writing_reads_back_the_same(snac, chunk_frames):
    buffer = io.BytesIO()
    writer = SnacWriter(buffer, snac.header, chunk_frames=chunk_frames)
    per_frame = snac.codes_per_frame
    for start in range(0, snac.frames, 3):  # feed in pieces of 3 frames, flushed in chunks of chunk_frames
        end = min(start + 3, snac.frames)
        writer.write([c[:, start * k : end * k] for c, k in zip(snac.codes, per_frame, strict=True)])
    writer.close(snac.original_length)
    assert_same(read_snac(buffer.getvalue()), snac)


@pytest.mark.parametrize("bits", [1, 5, 8, 12, 13, 24])
def test_packing_uses_exactly_the_bits_needed(bits):
    codes = np.random.default_rng(bits).integers(0, 2**bits, 1001)
    packed = pack_codes(codes, bits)
    assert len(packed) == -(-1001 * bits // 8)
    assert np.array_equal(unpack_codes(packed, 1001, bits), codes)


def test_sixty_seconds_of_24khz_codes_cost_at_most_one_percent_more_than_the_raw_bits():
    frames = -(-60 * 24000 // 2048)  # coarsest frames in 60 s, padded
    snac = make_file(frames=frames)
    snac.metadata = {}  # what `snac encode` writes unless asked for metadata
    raw_bytes = frames * 7 * 12 / 8
    assert len(to_bytes(snac)) <= raw_bytes * 1.01


def test_writing_a_path_is_atomic_and_reads_back(tmp_path):
    path = tmp_path / "x.snac"
    write_snac(path, make_file())
    assert_same(read_snac(path), make_file())
    assert [p.name for p in tmp_path.iterdir()] == ["x.snac"]


def test_a_failed_write_leaves_the_old_file_alone(tmp_path):
    path = tmp_path / "x.snac"
    path.write_bytes(b"precious")
    bad = make_file()
    bad.codes[0] = bad.codes[0] + 5000  # out of the codebook
    with pytest.raises(ValueError):
        write_snac(path, bad)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["x.snac"]


GOOD = to_bytes(make_file(frames=30, channels=2))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(GOOD) - 1), st.integers(0, 7))
def test_any_flipped_bit_is_rejected(position, bit):
    damaged = bytearray(GOOD)
    damaged[position] ^= 1 << bit
    with pytest.raises(ContainerError):
        read_snac(bytes(damaged))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(GOOD) - 1))
def test_any_truncation_is_rejected(length):
    with pytest.raises(ContainerError):
        read_snac(GOOD[:length])


def test_trailing_garbage_is_rejected():
    with pytest.raises(ContainerError, match="trailing bytes"):
        read_snac(GOOD + b"\x00")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_rejected_never_crash(data):
    with pytest.raises(ContainerError):
        read_snac(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_random_bytes_after_a_valid_magic_are_rejected(data):
    with pytest.raises(ContainerError):
        read_snac(b"SNAC\x01" + data)


def test_foreign_and_empty_files_say_what_they_are():
    with pytest.raises(ContainerError, match="not a .snac file"):
        read_snac(b"RIFF....WAVEfmt ")
    with pytest.raises(ContainerError, match="empty file"):
        read_snac(b"")
    with pytest.raises(ContainerError, match="unsupported .snac format version 9"):
        read_snac(b"SNAC\x09" + GOOD[5:])


class Counting(io.BytesIO):
    """A stream that records the largest read it was asked for."""

    largest = 0

    def read(self, n=-1):
        self.largest = max(self.largest, n)
        return super().read(n)


def test_a_lying_chunk_size_cannot_make_the_reader_allocate():
    # A valid header, then a chunk claiming the most frames allowed, with only a few bytes behind it.
    lie = encode_header(make_file(channels=2).header) + bytes([0x80, 0x80, 0x04]) + b"\x01" * 100
    stream = Counting(lie)
    with pytest.raises(ContainerError, match="truncated"):
        list(SnacReader(stream).chunks())
    assert stream.largest <= 1 << 20


def test_info_and_the_container_do_not_need_torch(tmp_path):
    path = tmp_path / "x.snac"
    write_snac(path, make_file())
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
        "from snac_cli.format.container import read_snac\n"
        f"print(read_snac({str(path)!r}).frames)\n"
        "from snac_cli.cli import main\n"
        f"sys.argv = ['snac', 'info', {str(path)!r}]\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Checksums:\s+ok$", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({f"k{i}": "v" for i in range(257)}, "at most 256"),
        ({"k": "v" * 4097}, "over 4,096"),
        ({"k": "caf\udce9"}, "not UTF-8"),
        ({f"k{i}": "v" * 4000 for i in range(13)}, "in all"),
    ],
)
def test_metadata_past_the_formats_limits_is_refused_before_writing(metadata, message):
    with pytest.raises(ValueError, match=message):
        check_metadata(metadata)
    header = SnacHeader("m", "0123abcd", 24000, 24000, 1, 1, 4096, (4, 2, 1), metadata=metadata)
    with pytest.raises(ContainerError, match=message):
        encode_header(header)

"""Audio I/O: every libsndfile format in, WAV from pipes of unknown length, safe writes out."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from snac_cli.audio.reader import AudioReader
from snac_cli.audio.resample import resample_stream
from snac_cli.audio.wav import wav_header, wav_samples
from snac_cli.audio.writer import write_stream
from snac_cli.errors import AudioError, UsageError


class Pipe(io.RawIOBase):
    """A non-seekable stream that hands out at most `piece` bytes per read, like a pipe."""

    def __init__(self, data: bytes, piece: int = 1000):
        self.data, self.pos, self.piece = data, 0, piece

    def readable(self):
        return True

    def seekable(self):
        return False

    def read(self, n=-1):
        n = len(self.data) if n < 0 else min(n, self.piece)  # read() reads to the end, as pipes do
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_a_wav_pipe_reads_like_the_file(tmp_path, audio_file, subtype):
    path = audio_file("x.wav", rate=22050, channels=2, seconds=0.5, subtype=subtype)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    with AudioReader(Pipe(path.read_bytes()), name="stdin") as reader:
        assert (reader.sample_rate, reader.channels, reader.length) == (22050, 2, expected.shape[0])
        got = reader.read().samples
    np.testing.assert_allclose(got, expected.T, atol=1e-7)


@pytest.mark.parametrize("size_field", [0, 0xFFFFFFFF])
def test_a_wav_pipe_whose_header_does_not_know_its_length_reads_to_the_end(size_field):
    samples = np.random.default_rng(0).uniform(-0.9, 0.9, (2, 12345)).astype(np.float32)
    header = bytearray(wav_header(2, 16000, "PCM_16", None))
    header[40:44] = size_field.to_bytes(4, "little")
    with AudioReader(Pipe(bytes(header) + wav_samples(samples, "PCM_16")), name="stdin") as reader:
        assert reader.length is None
        got = reader.read().samples
    assert got.shape == (2, 12345)
    np.testing.assert_allclose(got, samples, atol=1 / 32000)


def chunk(chunk_id: bytes, body: bytes, size: int | None = None) -> bytes:
    """A RIFF chunk: id, size (the body's unless given) and body, padded to an even length."""
    return chunk_id + struct.pack("<I", len(body) if size is None else size) + body + b"\0" * (len(body) % 2)


@st.composite
def wav_files(draw) -> bytes:
    """WAV files as programs write them and as they break: every sample format libsndfile reads from WAV,
    odd sizes with pad bytes, chunks before and after the data, extensible headers, sizes that are unknown
    (0, 0xFFFFFFFF), too short, too long or odd, bytes that are no chunk after the data."""
    tag, width, bits = draw(st.sampled_from([(1, 1, 8), (1, 2, 16), (1, 2, 12), (1, 3, 24), (1, 3, 20), (1, 4, 32),
                                             (3, 4, 32), (3, 8, 64), (6, 1, 8), (7, 1, 8)]))  # fmt: skip
    channels, rate = draw(st.integers(1, 3)), draw(st.sampled_from([8000, 11025, 44100]))
    frames = draw(st.integers(1, 700))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if tag == 3:
        data = rng.uniform(-1, 1, frames * channels).astype("<f4" if width == 4 else "<f8").tobytes()
    else:
        data = rng.integers(0, 256, frames * channels * width, dtype=np.uint8).tobytes()
    data += rng.integers(
        0, 256, draw(st.integers(0, width * channels - 1)), dtype=np.uint8
    ).tobytes()  # a partial frame
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * width, channels * width, bits)
    if draw(st.booleans()) and tag in (1, 3):  # WAVE_FORMAT_EXTENSIBLE around the same format
        guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt = (
            struct.pack("<HHIIHH", 0xFFFE, *struct.unpack("<HIIHH", fmt[2:])) + struct.pack("<HHI", 22, bits, 0) + guid
        )
    declared = draw(st.sampled_from(["exact", "zero", "unknown", "shorter", "longer", "odd"]))
    size = {"exact": len(data), "zero": 0, "unknown": 0xFFFFFFFF, "shorter": len(data) // 2,
            "longer": len(data) + 1000, "odd": len(data) | 1}[declared]  # fmt: skip
    before = b"".join(chunk(b"JUNK", b"x" * n) for n in draw(st.lists(st.integers(0, 9), max_size=2)))
    after = draw(st.sampled_from([b"", chunk(b"LIST", b"INFOISFT\x03\x00\x00\x00ab\x00\x00"), b"\x01\x02\x03"]))
    body = b"WAVE" + before + chunk(b"fmt ", fmt) + b"data" + struct.pack("<I", size) + data + b"\0" * (len(data) % 2)
    body += after
    if draw(st.integers(0, 9)) == 0:  # the format chunk after the data, which a pipe reader meets too late
        body = b"WAVE" + before + b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
        body += chunk(b"fmt ", fmt)
    return b"RIFF" + struct.pack("<I", draw(st.sampled_from([len(body), 0, 0xFFFFFFFF]))) + body


def read_all(source, **options) -> np.ndarray | str:
    """The samples an AudioReader gives, or the message of the error it raises."""
    try:
        with AudioReader(source, name="in", **options) as reader:
            return reader.read().samples
    except AudioError as e:
        return str(e)


@settings(max_examples=300, deadline=None)
@given(wav=wav_files())
def test_a_wav_pipe_gives_the_samples_of_the_same_file_read_from_disk(tmp_path_factory, wav):
    path = tmp_path_factory.mktemp("wav") / "x.wav"
    path.write_bytes(wav)
    from_disk = read_all(path)
    for piece in (1, 7, 1 << 16):
        streamed, spooled = read_all(Pipe(wav, piece)), read_all(Pipe(wav, piece), spool=True)
        for other in (streamed, spooled):
            if isinstance(from_disk, str):
                assert isinstance(other, str)
            else:
                assert isinstance(other, np.ndarray) and other.shape == from_disk.shape
                np.testing.assert_array_equal(other, from_disk)


def test_an_odd_data_chunk_then_its_pad_byte_and_a_list_chunk_adds_no_samples():
    samples = bytes(range(1, 102))  # 101 8-bit samples: a pad byte follows
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    wav = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"data", samples)
    wav += chunk(b"LIST", b"INFOabcd")
    got = read_all(Pipe(wav))
    assert isinstance(got, np.ndarray) and got.shape == (1, 101)


def test_a_declared_data_size_is_obeyed_on_a_pipe_as_libsndfile_obeys_it_in_a_file():
    samples = np.random.default_rng(1).uniform(-0.9, 0.9, (1, 12345)).astype(np.float32)
    header = bytearray(wav_header(1, 8000, "PCM_16", None))
    header[40:44] = (5000 * 2).to_bytes(4, "little")
    got = read_all(Pipe(bytes(header) + wav_samples(samples, "PCM_16")))
    assert isinstance(got, np.ndarray) and got.shape == (1, 5000)


@pytest.mark.parametrize("name", ["x.flac", "x.ogg"])
def test_other_formats_read_from_a_pipe_too(audio_file, name):
    path = audio_file(name, rate=16000, seconds=0.3)
    with AudioReader(Pipe(path.read_bytes()), name="stdin") as reader:
        assert reader.sample_rate == 16000
        assert abs(reader.read().length - 4800) <= 1


def test_bad_inputs_are_one_clear_error(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("hello, this is not audio\n" * 20)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.1, np.nan, 0.2], dtype=np.float32), 8000, subtype="FLOAT")
    cases = {
        tmp_path / "missing.wav": "no such file",
        tmp_path: "is a directory",
        tmp_path / "empty.wav": "empty file",
        tmp_path / "text.wav": "not a readable audio file",
        nan: "NaN or infinite",
    }
    for path, message in cases.items():
        with pytest.raises(AudioError, match=message):
            with AudioReader(path) as reader:
                reader.read()
    with pytest.raises(AudioError, match="empty stream"):
        AudioReader(Pipe(b""), name="stdin")


@pytest.mark.parametrize("rate, target", [(8000, 24000), (44100, 24000), (48000, 44100), (24000, 24000)])
def test_streamed_resampling_keeps_the_duration(rate, target):
    x = np.random.default_rng(1).standard_normal((2, rate)).astype(np.float32) * 0.1
    blocks = [x[:, i : i + 999] for i in range(0, rate, 999)]
    out = np.concatenate(list(resample_stream(blocks, rate, target, 2)), axis=1)
    assert abs(out.shape[1] - target) <= 2
    if rate == target:
        assert np.array_equal(out, x)


@pytest.mark.parametrize("name, subtype", [("a.wav", "PCM_24"), ("a.flac", None), ("a.ogg", None), ("a.wav", "FLOAT")])
def test_writing_by_extension(tmp_path, name, subtype):
    x = np.random.default_rng(2).uniform(-0.5, 0.5, (2, 8000)).astype(np.float32)
    write_stream(tmp_path / name, [x[:, :3000], x[:, 3000:]], 16000, 2, subtype=subtype)
    info = sf.info(tmp_path / name)
    assert (info.samplerate, info.channels, info.frames) == (16000, 2, 8000)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_an_unknown_extension_or_subtype_is_refused(tmp_path):
    x = np.zeros((1, 10), dtype=np.float32)
    with pytest.raises(UsageError, match="unknown output format"):
        write_stream(tmp_path / "a.xyz", [x], 8000, 1)
    with pytest.raises(UsageError, match="FLAC cannot hold FLOAT"):
        write_stream(tmp_path / "a.flac", [x], 8000, 1, subtype="FLOAT")


def test_a_failure_while_writing_keeps_the_existing_file(tmp_path):
    target = tmp_path / "a.wav"
    target.write_bytes(b"keep me")

    def blocks():
        yield np.zeros((1, 100), dtype=np.float32)
        raise RuntimeError("decoder crashed")

    with pytest.raises(RuntimeError):
        write_stream(target, blocks(), 8000, 1)
    assert target.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_streamed_wav_output_reads_back(subtype):
    x = np.random.default_rng(3).uniform(-1, 1, (2, 5000)).astype(np.float32)
    buffer = io.BytesIO()
    write_stream(buffer, [x[:, :100], x[:, 100:]], 16000, 2, subtype=subtype, length=5000)
    buffer.seek(0)
    got, rate = sf.read(buffer, dtype="float32", always_2d=True)
    assert rate == 16000 and got.shape == (5000, 2)
    np.testing.assert_allclose(got.T, x, atol=2 / 2**15)


@pytest.mark.parametrize("extension", ["wav", "flac", "ogg", "mp3", "aiff"])
def test_what_the_format_check_lets_through_is_written_and_what_it_refuses_it_refuses_first(tmp_path, extension):
    from snac_cli.audio.writer import FORMAT_LIMITS, FORMATS, MP3_RATES, check_output_format

    lowest, highest, most = FORMAT_LIMITS[FORMATS[extension]]
    rates = {lowest, highest, highest + 1, 44100, 96000, 768000, *MP3_RATES}
    for rate, channels in [(r, 1) for r in sorted(rates)] + [(44100, most), (44100, most + 1)]:
        path = tmp_path / f"r{rate}c{channels}.{extension}"
        try:
            check_output_format(str(path), None, rate, channels)
        except UsageError:
            outside = rate > highest or rate < lowest or channels > most
            assert outside or (extension == "mp3" and rate not in MP3_RATES), (rate, channels)
            continue
        frames = max(1, rate // 100)
        write_stream(path, [np.zeros((channels, frames), dtype=np.float32)], rate, channels)
        assert sf.info(path).samplerate == rate and sf.info(path).channels == channels


@pytest.mark.parametrize("subtype, bits", [("PCM_16", 16), ("PCM_24", 24)])
def test_every_writer_rounds_floats_to_the_same_integers(tmp_path, subtype, bits):
    """WAV, AIFF and FLAC files, WAV on a stream and raw PCM hold the same integers for the same floats: each
    sample rounded to the nearest step of 2**-(bits-1) (half to even), clipped at full scale."""
    rng = np.random.default_rng(0)
    steps = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(2, 4000))
    fractions = rng.choice([0.0, 0.25, 0.5, 0.75, -0.25, -0.5, -0.75], size=steps.shape)
    block = ((steps + fractions) / 2 ** (bits - 1)).astype(np.float32)
    block[:, :4] = [[1.5, -1.5, 1.0, -1.0], [0.999, -0.999, 0.0, 2.0**-bits]]  # past full scale, at the edges
    scaled = block.astype(np.float64) * 2 ** (bits - 1)
    expected = np.clip(np.round(scaled), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(np.int64).T
    got = {}
    for extension in ("wav", "aiff", "flac"):
        write_stream(tmp_path / f"a.{extension}", [block], 16000, 2, subtype=subtype)
        ints, _ = sf.read(tmp_path / f"a.{extension}", dtype="int32")
        got[extension] = ints.astype(np.int64) >> (32 - bits)
    stream = io.BytesIO()
    write_stream(stream, [block], 16000, 2, subtype=subtype, length=block.shape[1])
    ints, _ = sf.read(io.BytesIO(stream.getvalue()), dtype="int32")
    got["-"] = ints.astype(np.int64) >> (32 - bits)
    if bits == 16:
        raw = io.BytesIO()
        write_stream(raw, [block], 16000, 2, raw=True)
        got["raw"] = np.frombuffer(raw.getvalue(), dtype="<i2").reshape(-1, 2).astype(np.int64)
    for name, ints in got.items():
        assert np.array_equal(ints, expected), f"{name}: {np.sum(ints != expected)} samples differ"

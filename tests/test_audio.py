"""Audio I/O: every libsndfile format in, WAV from pipes of unknown length, safe writes out."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from snac_cli.audio import AudioReader, resample_stream, write_stream
from snac_cli.errors import AudioError, OutputError
from snac_cli.wav import wav_header, wav_samples


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
        assert (reader.sample_rate, reader.channels, reader.frames) == (22050, 2, expected.shape[0])
        got = reader.read().samples
    np.testing.assert_allclose(got, expected.T, atol=1e-7)


@pytest.mark.parametrize("size_field", [0, 0xFFFFFFFF])
def test_a_wav_pipe_whose_header_does_not_know_its_length_reads_to_the_end(size_field):
    samples = np.random.default_rng(0).uniform(-0.9, 0.9, (2, 12345)).astype(np.float32)
    header = bytearray(wav_header(2, 16000, "PCM_16", None))
    header[40:44] = size_field.to_bytes(4, "little")
    with AudioReader(Pipe(bytes(header) + wav_samples(samples, "PCM_16")), name="stdin") as reader:
        assert reader.frames is None
        got = reader.read().samples
    assert got.shape == (2, 12345)
    np.testing.assert_allclose(got, samples, atol=1 / 32000)


@pytest.mark.parametrize("declared, tail", [(5000, b""), (20000, b""), (12345, b"LIST\x04\x00\x00\x00abcd")])
def test_on_a_pipe_the_wav_size_is_a_guess_and_the_data_ends_with_the_stream(declared, tail):
    # sox writes the length it expects before its effects run; files may carry chunks after the data.
    samples = np.random.default_rng(1).uniform(-0.9, 0.9, (1, 12345)).astype(np.float32)
    header = bytearray(wav_header(1, 8000, "PCM_16", None))
    header[40:44] = (declared * 2).to_bytes(4, "little")
    with AudioReader(Pipe(bytes(header) + wav_samples(samples, "PCM_16") + tail), name="stdin") as reader:
        got = reader.read().samples
    assert got.shape == (1, 12345)
    np.testing.assert_allclose(got, samples, atol=1 / 32000)


@pytest.mark.parametrize("name", ["x.flac", "x.ogg"])
def test_other_formats_read_from_a_pipe_too(audio_file, name):
    path = audio_file(name, rate=16000, seconds=0.3)
    with AudioReader(Pipe(path.read_bytes()), name="stdin") as reader:
        assert reader.sample_rate == 16000
        assert abs(reader.read().frames - 4800) <= 1


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
    write_stream(tmp_path / name, [x[:, :3000], x[:, 3000:]], 16000, 2, subtype)
    info = sf.info(tmp_path / name)
    assert (info.samplerate, info.channels, info.frames) == (16000, 2, 8000)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_an_unknown_extension_or_subtype_is_refused(tmp_path):
    x = np.zeros((1, 10), dtype=np.float32)
    with pytest.raises(OutputError, match="unknown output format"):
        write_stream(tmp_path / "a.xyz", [x], 8000, 1)
    with pytest.raises(OutputError, match="FLAC cannot hold FLOAT"):
        write_stream(tmp_path / "a.flac", [x], 8000, 1, "FLOAT")


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
    write_stream(buffer, [x[:, :100], x[:, 100:]], 16000, 2, subtype, frames=5000)
    buffer.seek(0)
    got, rate = sf.read(buffer, dtype="float32", always_2d=True)
    assert rate == 16000 and got.shape == (5000, 2)
    np.testing.assert_allclose(got.T, x, atol=2 / 2**15)

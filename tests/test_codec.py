"""The library API: audio files to .snac and back, restoring rate, channels and exact length."""

from __future__ import annotations

import dataclasses
import io
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from snac_cli.audio.reader import AudioReader
from snac_cli.codec import Coder, decode, encode, load_coder
from snac_cli.errors import ModelError
from snac_cli.format.container import SnacReader, read_snac, to_bytes
from snac_cli.settings import EncodeSettings, ModelSettings


@pytest.fixture(scope="module")
def model(tiny) -> Coder:
    """The tiny model as the codec runs it (PyTorch's coder)."""
    return load_coder(ModelSettings(str(tiny), "cpu"))


def round_trip(model: Coder, path, **options) -> tuple[np.ndarray, int, bytes]:
    buffer = io.BytesIO()
    with AudioReader(path) as audio:
        encode(model, audio, buffer, EncodeSettings(**options), model_name="tiny")
    data = buffer.getvalue()
    decoded = decode(model, SnacReader(io.BytesIO(data)))
    return np.concatenate(list(decoded.blocks), axis=1), decoded.sample_rate, data


@pytest.mark.parametrize(
    "name, rate, channels, subtype",
    [
        ("mono8k.wav", 8000, 1, "PCM_16"),
        ("stereo48k.flac", 48000, 2, "PCM_16"),
        ("vorbis.ogg", 44100, 2, None),
        ("deep.wav", 22050, 1, "PCM_24"),
    ],
)
@pytest.mark.parametrize("mode", ["mix", "keep"])
def test_decoding_restores_rate_channels_and_exact_length(model, audio_file, name, rate, channels, subtype, mode):
    path = audio_file(name, rate=rate, channels=channels, seconds=0.77, subtype=subtype)
    expected = sf.info(path)
    audio, out_rate, data = round_trip(model, path, channels=mode)
    assert out_rate == expected.samplerate
    assert audio.shape == (expected.channels, expected.frames)
    assert read_snac(data).channels == (1 if mode == "mix" else channels)


def test_without_normalization_mono_at_the_model_rate_goes_into_the_model_bit_for_bit(model, audio_file):
    path = audio_file("x.wav", rate=model.facts.sample_rate, seconds=0.5, subtype="FLOAT")
    _, _, data = round_trip(model, path, normalize="none")
    samples, _ = sf.read(path, dtype="float32")
    expected = model.model.encode(torch.from_numpy(samples)[None, None])  # type: ignore[attr-defined]
    snac = read_snac(data)
    assert snac.gain == 1.0
    assert all(np.array_equal(c, e[0].numpy()[None]) for c, e in zip(snac.codes, expected, strict=True))


def test_the_gain_is_recorded_and_undone_on_decode(model, audio_file):
    path = audio_file("x.wav", rate=16000, seconds=0.6)
    _, _, data = round_trip(model, path, normalize="peak")
    snac = read_snac(data)
    assert snac.gain != 1.0
    unity = dataclasses.replace(snac, gain=1.0)
    with_gain = np.concatenate(list(decode(model, SnacReader(io.BytesIO(data))).blocks), axis=1)
    without = np.concatenate(list(decode(model, SnacReader(io.BytesIO(to_bytes(unity)))).blocks), axis=1)
    np.testing.assert_allclose(with_gain, without / snac.gain, rtol=1e-5, atol=1e-6)


def test_a_file_only_decodes_with_the_model_that_made_it(model, audio_file, checkpoint):
    _, _, data = round_trip(model, audio_file("x.wav", seconds=0.2))
    other = load_coder(ModelSettings(str(checkpoint("tiny-plain")), "cpu"))
    with pytest.raises(ModelError, match="made by model tiny"):
        decode(other, SnacReader(io.BytesIO(data)))


def test_files_encode_and_decode_through_the_library_alone(tmp_path, tiny, audio_file):
    """What the CLI runs, called from Python: settings in, files out, progress through the one protocol."""
    import contextlib

    from snac_cli.codec import decode_file, encode_file
    from snac_cli.settings import DecodeSettings, ModelSettings

    calls: list[tuple[str, float | None, str]] = []
    done: list[float] = []

    @contextlib.contextmanager
    def progress(description, total, unit):
        calls.append((description, total, unit))
        yield done.append

    wav = audio_file("in.wav", rate=22050, channels=2, seconds=0.7)
    header = encode_file(wav, tmp_path / "a.snac", EncodeSettings(channels="keep"), model=ModelSettings(str(tiny)),
                         progress=progress)  # fmt: skip
    assert header.channels == 2 and read_snac(tmp_path / "a.snac").channels == 2
    assert calls == [("encoding", pytest.approx(0.7, abs=1e-3), "s")] and sum(done) == pytest.approx(0.7, abs=0.2)
    with open(tmp_path / "a.snac", "rb") as codes:
        seconds = decode_file(codes, tmp_path / "b.flac", DecodeSettings(sample_rate=16000))
    info = sf.info(tmp_path / "b.flac")
    assert seconds == pytest.approx(0.7, abs=1e-3) and (info.samplerate, info.channels) == (16000, 2)


def test_another_models_file_is_a_model_error_not_a_corrupted_file(tmp_path, checkpoint, audio_file):
    """Decoding with a model that did not make the file (its frames are another length, so the file's length
    does not fit them either) says which configs differ, exit 4, before any judgement of the length."""
    from tests.helpers.cli import MODEL, invoke

    made = checkpoint("tiny-lm")
    assert invoke("encode", audio_file("in.wav", seconds=0.5), tmp_path / "a.snac", "-m", made).exit_code == 0
    result = invoke("decode", tmp_path / "a.snac", tmp_path / "a.wav", "-m", checkpoint("tiny"))
    assert result.exit_code == MODEL, result.output
    configs = re.findall(r"config ([0-9a-f]{8})", result.stderr)
    assert "differs from the one given" in result.stderr and len(set(configs)) == 2, result.stderr
    assert not (tmp_path / "a.wav").exists()

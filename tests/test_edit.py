"""Cutting and joining .snac files on frame boundaries, without re-encoding."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from snac_cli.codec.models import frame_samples
from snac_cli.errors import InputError
from snac_cli.format.container import read_snac
from snac_cli.format.edit import concat, cut
from tests.helpers.cli import invoke


@pytest.fixture
def encoded(tmp_path, tiny, audio_file):
    """encoded(name, seconds, rate) -> path of a .snac file of speech-like audio."""

    def make(name: str, seconds: float, rate: int = 16000, normalize: str = "loudness"):
        wav = audio_file(f"{name}.wav", rate=rate, seconds=seconds)
        assert invoke("encode", wav, tmp_path / f"{name}.snac", "-m", tiny, "--normalize", normalize).exit_code == 0
        return tmp_path / f"{name}.snac"

    return make


def test_a_cut_keeps_whole_frames_around_the_span(encoded):
    snac = read_snac(encoded("a", 2.0, rate=22050))
    per_frame = frame_samples(snac)  # model-rate samples per frame
    part = cut(snac, 0.5, 1.25, per_frame)
    first = int(0.5 * snac.sample_rate // per_frame)
    last = -(-int(1.25 * snac.sample_rate) // per_frame)
    assert part.frames == last - first
    for whole, piece, n in zip(snac.codes, part.codes, snac.codes_per_frame, strict=True):
        assert np.array_equal(piece, whole[:, first * n : last * n])
    assert part.original_length == round((last - first) * per_frame * 22050 / snac.sample_rate)
    assert part.header == snac.header


def test_a_cut_to_the_end_keeps_the_original_end(encoded):
    snac = read_snac(encoded("a", 1.3))
    tail = cut(snac, 1.0, None, frame_samples(snac))
    head_samples = int(1.0 * snac.sample_rate) // frame_samples(snac) * frame_samples(snac)
    assert tail.original_length == snac.original_length - head_samples


@pytest.mark.parametrize("start, end", [(1.0, 0.5), (5.0, None), (-1.0, 0.2)])
def test_an_empty_span_is_an_input_error(encoded, start, end):
    snac = read_snac(encoded("a", 1.0))
    with pytest.raises(InputError):
        cut(snac, start, end, frame_samples(snac))


def test_cut_then_concat_gives_back_the_codes(encoded):
    snac = read_snac(encoded("a", 1.7))
    per_frame = frame_samples(snac)
    middle = 0.8 * snac.sample_rate // per_frame * per_frame / snac.sample_rate  # on a frame boundary
    joined, gains_differ = concat([cut(snac, 0, middle, per_frame), cut(snac, middle, None, per_frame)], per_frame)
    assert not gains_differ
    assert all(np.array_equal(a, b) for a, b in zip(joined.codes, snac.codes, strict=True))
    assert joined.original_length == snac.original_length


def test_cut_and_concat_on_the_command_line_decode_to_the_lengths_they_say(tmp_path, encoded):
    a, b = encoded("a", 1.2), encoded("b", 0.9, normalize="peak")
    assert invoke("cut", a, "-o", tmp_path / "part.snac", "--start", "0.25", "--end", "0.75").exit_code == 0
    result = invoke("concat", tmp_path / "part.snac", b, "-o", tmp_path / "joined.snac")
    assert result.exit_code == 0 and "different gains" in result.stderr
    for name in ("part", "joined"):
        assert invoke("decode", tmp_path / f"{name}.snac", tmp_path / f"{name}.wav").exit_code == 0
        assert sf.info(tmp_path / f"{name}.wav").frames == read_snac(tmp_path / f"{name}.snac").original_length
    assert 0.5 <= sf.info(tmp_path / "part.wav").duration < 0.6


def test_files_of_different_audio_cannot_be_joined(tmp_path, encoded):
    a, b = encoded("a", 0.5), encoded("b", 0.5, rate=8000)
    result = invoke("concat", a, b, "-o", tmp_path / "j.snac")
    assert result.exit_code == InputError.exit_code and "original_sample_rate" in result.stderr
    assert not (tmp_path / "j.snac").exists()

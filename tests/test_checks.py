"""The one check of a `.snac` file's header and length (format/checks.py), made by every command that reads
one: a forged file (valid checksums, lying header) is refused by each as decode refuses it, exit 3, one
line, no output."""

from __future__ import annotations

import dataclasses

import pytest

from snac_cli.format.container import read_snac, write_snac
from tests.helpers.cli import INPUT, OK, invoke

FRAME = 24 * 6  # the tiny model's samples per frame: hop 24, strides (3, 2, 1)


def forged(tmp_path, good_snac, **fields):
    path = tmp_path / "forged.snac"
    write_snac(path, dataclasses.replace(read_snac(good_snac), **fields))
    return path


def commands(path, tmp_path, tiny):
    return {
        "info": ["info", path],
        "cut": ["cut", path, "-o", tmp_path / "out" / "cut.snac"],
        "export": ["export", path, "-o", tmp_path / "out"],
        "concat": ["concat", path, path, "-o", tmp_path / "out" / "joined.snac"],
        "decode": ["decode", path, tmp_path / "out" / "a.wav"],
    }


def refused_by(tmp_path, tiny, path, names):
    (tmp_path / "out").mkdir(exist_ok=True)
    for name, command in commands(path, tmp_path, tiny).items():
        if name not in names:
            continue
        result = invoke(*command)
        assert result.exit_code == INPUT, (name, result.output)
        assert result.stderr.startswith("snac: error: ") and result.stderr.count("\n") == 1, (name, result.stderr)
        assert not list((tmp_path / "out").iterdir()), name


def test_a_length_of_2_to_the_48_over_4_frames_is_refused_by_every_command(tmp_path, tiny, good_snac):
    snac = read_snac(good_snac)
    codes = [c[:, : 4 * n] for c, n in zip(snac.codes, snac.codes_per_frame, strict=True)]
    path = forged(tmp_path, good_snac, codes=codes, original_length=2**48)
    refused_by(tmp_path, tiny, path, {"info", "cut", "export", "concat", "decode"})


@pytest.mark.parametrize("field, value", [("codebook_size", 1024), ("sample_rate", 22050)])
def test_a_header_that_contradicts_its_model_is_refused(tmp_path, tiny, good_snac, field, value):
    """The fingerprint names the tiny model's config; the header claims another codebook or model rate."""
    path = forged(tmp_path, good_snac, **{field: value})
    refused_by(tmp_path, tiny, path, {"cut", "concat", "decode"})


def test_a_length_one_sample_past_the_codes_is_refused(tmp_path, tiny, good_snac):
    snac = read_snac(good_snac)
    assert snac.original_sample_rate == snac.sample_rate  # a length in the model's samples
    whole = forged(tmp_path, good_snac, original_length=snac.frames * FRAME)
    assert invoke("decode", whole, tmp_path / "whole.wav").exit_code == OK
    assert invoke("cut", whole, "-o", tmp_path / "whole-cut.snac").exit_code == OK
    path = forged(tmp_path, good_snac, original_length=snac.frames * FRAME + 1)
    refused_by(tmp_path, tiny, path, {"cut", "concat", "decode"})


@pytest.mark.parametrize("gain", [1e-40, 1e-45])
def test_a_gain_no_decode_can_undo_is_refused_by_every_command(tmp_path, tiny, good_snac, gain, monkeypatch):
    """A gain under the least normal float32 (2^-126) would blow the audio past float32 (numpy's
    RuntimeWarning, infinite samples); snac never writes one (audio/normalize.py)."""
    import snac_cli.format.header

    with monkeypatch.context() as m:
        m.setattr(snac_cli.format.header, "MIN_GAIN", 0.0, raising=False)  # the writer checks as readers do
        path = forged(tmp_path, good_snac, gain=gain)
    refused_by(tmp_path, tiny, path, {"info", "cut", "export", "concat", "decode"})

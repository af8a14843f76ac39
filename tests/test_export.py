"""`snac export` and `snac import` (format/export.py, cli/tokens.py): codes to a language model's tokens and
back, exactly, for every format and offset scheme; malformed tokens are one input error."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from snac_cli.errors import InputError
from tests.helpers.cli import USAGE, invoke, snac


@pytest.mark.parametrize("fmt, suffix", [("npy", ".npy"), ("jsonl", ".jsonl"), ("tokens", ".txt")])
@pytest.mark.parametrize("offsets", ["none", "position"])
def test_export_then_import_gives_back_the_same_codes_and_audio(tmp_path, checkpoint, audio_file, fmt, suffix, offsets):
    model = checkpoint("tiny-lm")
    wav = audio_file("in.wav", rate=16000, seconds=0.9)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model, "--normalize", "none").exit_code == 0
    exported = invoke("export", tmp_path / "a.snac", "--format", fmt, "--offsets", offsets, "--base", "1000")
    assert exported.exit_code == 0, exported.output
    tokens_file = tmp_path / f"a{suffix}"
    imported = invoke("import", tokens_file, tmp_path / "b.snac", "-m", model, "--offsets", offsets, "--base", "1000")
    assert imported.exit_code == 0, imported.output
    from snac_cli.format.container import read_snac

    a, b = read_snac(tmp_path / "a.snac"), read_snac(tmp_path / "b.snac")
    assert all(np.array_equal(x, y) for x, y in zip(a.codes, b.codes, strict=True))
    for name in ("a", "b"):
        assert (
            invoke("decode", tmp_path / f"{name}.snac", tmp_path / f"{name}.wav", "--sample-rate", "model").exit_code
            == 0
        )
    decoded_a, _ = sf.read(tmp_path / "a.wav")
    decoded_b, _ = sf.read(tmp_path / "b.wav")
    assert np.array_equal(decoded_a[: len(decoded_b)], decoded_b[: len(decoded_a)])


def test_export_writes_seven_tokens_per_frame_for_three_scales(tmp_path, checkpoint, audio_file):
    model = checkpoint("tiny-lm")
    assert invoke("encode", audio_file("in.wav", seconds=0.5), tmp_path / "a.snac", "-m", model).exit_code == 0
    record = json.loads(invoke("export", tmp_path / "a.snac", "--format", "jsonl", "-o", "-").stdout)
    frames = json.loads(invoke("info", tmp_path / "a.snac", "--json").stdout)["frames_per_scale"][0]
    assert len(record["tokens"][0]) == 7 * frames


def test_import_rejects_tokens_out_of_place(tmp_path, checkpoint):
    (tmp_path / "bad.txt").write_text("<snac_1><snac_2><snac_3>\n")  # not a whole frame of 7
    result = invoke("import", tmp_path / "bad.txt", tmp_path / "b.snac", "-m", checkpoint("tiny-lm"))
    assert result.exit_code == InputError.exit_code and "whole number of frames" in result.stderr
    assert not (tmp_path / "b.snac").exists()


@pytest.mark.parametrize("name", ["24khz", "32khz"])
def test_export_import_decode_is_exact_for_the_official_shapes(tmp_path, checkpoint, audio_file, name):
    model = checkpoint(name)
    wav = audio_file("in.wav", rate=22050, seconds=0.8)
    # Tokens carry codes only, not the input's normalization gain: encode without one to compare audio.
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model, "--normalize", "none").exit_code == 0
    exported = invoke("export", tmp_path / "a.snac", "--format", "tokens", "--offsets", "position", "--base", "128266")
    assert exported.exit_code == 0, exported.output
    tokens = (tmp_path / "a.txt").read_text().split("><")
    from snac_cli.format.container import read_snac

    a = read_snac(tmp_path / "a.snac")
    assert len(tokens) == a.frames * (7 if name == "24khz" else 15)
    imported = invoke("import", tmp_path / "a.txt", tmp_path / "b.snac", "-m", model, "--offsets", "position",
                      "--base", "128266")  # fmt: skip
    assert imported.exit_code == 0, imported.output
    b = read_snac(tmp_path / "b.snac")
    assert all(np.array_equal(x, y) for x, y in zip(a.codes, b.codes, strict=True))
    for snac_file in ("a", "b"):
        decoded = invoke(
            "decode", tmp_path / f"{snac_file}.snac", tmp_path / f"{snac_file}.wav", "--sample-rate", "model"
        )
        assert decoded.exit_code == 0, decoded.output
    audio_a, _ = sf.read(tmp_path / "a.wav")
    audio_b, _ = sf.read(tmp_path / "b.wav")
    n = min(len(audio_a), len(audio_b))
    assert n > 0 and np.array_equal(audio_a[:n], audio_b[:n])


# ---- the edges: what a hostile first day found ----------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (b'{"tokens": [1, 99999999999999999999999]}\n', "not an integer in"),
    (b"", "no record"),
    (b"[1, 2]\n", "not an object with 'tokens'"),
    (b"null\n", "not an object with 'tokens'"),
    (b'{"tokens": [1.5, 2]}\n', "token 1.5 is not an integer"),
    (b'{"tokens": [true]}\n', "token True is not an integer"),
    (b'{"tokens": [[1, 2], [3]]}\n', "channels of different lengths"),
    (b"\xff\xfe", "not UTF-8"),
])  # fmt: skip
def test_malformed_tokens_are_one_input_error(tmp_path, checkpoint, content, message):
    (tmp_path / "t.jsonl").write_bytes(content)
    result = invoke("import", tmp_path / "t.jsonl", tmp_path / "t.snac", "-m", checkpoint("tiny-lm"))
    assert result.exit_code == InputError.exit_code and message in result.stderr, result.output
    assert not (tmp_path / "t.snac").exists()
    (tmp_path / "t.txt").write_bytes(b"<snac_99999999999999999999999>\n")
    result = invoke("import", tmp_path / "t.txt", tmp_path / "t.snac", "-m", checkpoint("tiny-lm"))
    assert result.exit_code == InputError.exit_code and "not a '<snac_{}>' token" in result.stderr


def test_export_of_stdin_writes_stdout(tmp_path, good_snac):
    import io

    result = snac("export", "-", "--format", "npz", stdin=good_snac.read_bytes(), cwd=tmp_path)
    assert result.returncode == 0 and "scale_0" in np.load(io.BytesIO(result.stdout))
    assert not list(tmp_path.glob("-*"))


def test_tokens_on_a_pipe_play_as_they_come(tmp_path, checkpoint, audio_file):
    """`snac export --format tokens | snac decode --tokens - - --format raw`: audio comes out of the pipe
    while the tokens are still going in, and all of it equals the decode of the whole token file."""
    import os
    import select

    tiny = checkpoint("tiny-lm")  # strides that interleave into tokens
    wav = audio_file("in.wav", rate=16000, seconds=3.0)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--normalize", "none").exit_code == 0
    text = snac("export", tmp_path / "a.snac", "--format", "tokens", "-o", "-").stdout
    tokens = text.split(b">")
    half = b">".join(tokens[: len(tokens) // 2]) + b">"
    command = [sys.executable, "-m", "snac_cli", "decode", "--tokens", "-", "-", "--format", "raw", "-m", str(tiny)]
    player = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert player.stdin is not None and player.stdout is not None
    player.stdin.write(half)
    player.stdin.flush()
    ready, _, _ = select.select([player.stdout], [], [], 120)
    early = os.read(player.stdout.fileno(), 1 << 20) if ready else b""
    assert early, "no audio before the tokens ended"
    player.stdin.write(text[len(half) :])
    player.stdin.close()
    rest = player.stdout.read()
    assert player.wait(timeout=120) == 0, player.stderr.read() if player.stderr else ""
    streamed = np.frombuffer(early + rest, dtype="<i2")
    (tmp_path / "a.txt").write_bytes(text)
    assert invoke("decode", "--tokens", tmp_path / "a.txt", tmp_path / "b.wav", "-m", tiny).exit_code == 0
    whole, _ = sf.read(tmp_path / "b.wav", dtype="int16")
    assert streamed.shape == whole.shape
    assert np.abs(streamed.astype(np.int32) - whole).max() <= 1  # float rounding of other pieces, then 16 bits


def test_a_smaller_lookahead_streams_the_same_length_with_one_warning(tmp_path, checkpoint, audio_file):
    """`--lookahead 0`: every frame's audio is written as the frame arrives, approximate; as long as the
    exact decode, the last samples (written at the end, final) equal to it, and one warning line says so."""
    tiny = checkpoint("tiny-lm")
    wav = audio_file("in.wav", rate=16000, seconds=1.0)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--normalize", "none").exit_code == 0
    text = snac("export", tmp_path / "a.snac", "--format", "tokens", "-o", "-").stdout
    exact = snac("decode", "--tokens", "-", "-", "--format", "raw", "-m", tiny, stdin=text)
    early = snac("decode", "--tokens", "-", "-", "--format", "raw", "-m", tiny, "--lookahead", "0", stdin=text)
    assert exact.returncode == early.returncode == 0, early.stderr
    assert exact.stderr == b"" and early.stderr.decode().count("\n") == 1
    assert early.stderr.startswith(b"snac: warning: --lookahead 0: audio is written before it is final")
    a, b = (np.frombuffer(r.stdout, dtype="<i2") for r in (exact, early))
    assert a.shape == b.shape and not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("stdin", "output", "code", "message"),
    [
        (b"", "a.wav", InputError.exit_code, "stdin: no tokens"),
        (b"<snac_1><snac_2>", "a.wav", InputError.exit_code, "end inside a frame"),
        (b"\xff<snac_1>", "a.wav", InputError.exit_code, "not UTF-8"),
        (b"<snac_1>", "a.mp3", 2, "MP3 cannot hold audio at 12345 Hz"),
        (b"<snac_1>", "a.raw", 2, "--format raw writes to stdout"),
    ],
)
def test_bad_token_input_is_one_line_and_leaves_no_output(tmp_path, checkpoint, stdin, output, code, message):
    extra = (
        ["--sample-rate", "12345"]
        if output.endswith(".mp3")
        else ["--format", "raw"]
        if output.endswith(".raw")
        else []
    )
    result = snac("decode", "--tokens", "-", tmp_path / output, "-m", checkpoint("tiny-lm"), *extra, stdin=stdin)
    assert result.returncode == code and message in result.stderr.decode(), result.stderr
    assert result.stderr.decode().count("\n") == 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("fmt", ["npy", "npz", "tokens"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_two_inputs_of_one_name_are_refused_before_any_output(tmp_path, good_snac, fmt, force):
    """`snac export a/x.snac b/x.snac -o out/` would write out/x twice (with -f, losing a's codes): it is a
    usage error before anything is written, as it is for a folder run."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.snac").write_bytes(good_snac.read_bytes())
    (tmp_path / "out").mkdir()
    inputs = [tmp_path / "a" / "x.snac", tmp_path / "b" / "x.snac"]
    result = invoke("export", *inputs, "--format", fmt, "-o", tmp_path / "out", *force)
    assert result.exit_code == USAGE and "would both write" in result.stderr, result.output
    assert result.stderr.count("\n") == 1 and not list((tmp_path / "out").iterdir())
    twice = invoke("export", good_snac, good_snac, "--format", fmt, *force)
    assert twice.exit_code == USAGE and "is given 2 times" in twice.stderr, twice.output


def test_token_text_is_one_channel_per_line_for_decode_as_for_import(tmp_path, checkpoint, audio_file):
    """`snac export stereo.snac --format tokens -o - | snac decode --tokens - out.wav` gives the 2 channels
    that `snac import` reads from the same text; lines of different lengths are malformed tokens."""
    model = checkpoint("tiny-lm")
    wav = audio_file("in.wav", rate=16000, channels=2, seconds=0.6)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", model, "--channels", "keep").exit_code == 0
    text = snac("export", tmp_path / "a.snac", "--format", "tokens", "-o", "-").stdout
    assert text.count(b"\n") == 2
    piped = snac("decode", "--tokens", "-", tmp_path / "piped.wav", "-m", model, stdin=text)
    assert piped.returncode == 0, piped.stderr
    (tmp_path / "a.txt").write_bytes(text)
    assert invoke("import", tmp_path / "a.txt", tmp_path / "b.snac", "-m", model).exit_code == 0
    imported = invoke("decode", tmp_path / "b.snac", tmp_path / "imported.wav", "--sample-rate", "model")
    assert imported.exit_code == 0, imported.output
    filed = invoke("decode", "--tokens", tmp_path / "a.txt", tmp_path / "filed.wav", "-m", model)
    assert filed.exit_code == 0, filed.output
    expected, _ = sf.read(tmp_path / "imported.wav", dtype="int16")
    for name in ("piped", "filed"):
        audio, _ = sf.read(tmp_path / f"{name}.wav", dtype="int16")
        assert audio.shape == expected.shape and audio.shape[1] == 2 and np.array_equal(audio, expected)
    first, second = text.split(b"\n")[:2]
    uneven = first + b"\n" + b"".join(t + b">" for t in second.split(b">")[:7]) + b"\n"
    for command in (["decode", "--tokens", "-", tmp_path / "u.wav"], ["import", "-", tmp_path / "u.snac"]):
        refused = snac(*command, "-m", model, stdin=uneven)
        assert refused.returncode == InputError.exit_code and b"channels of different lengths" in refused.stderr
        assert refused.stderr.count(b"\n") == 1 and not list(tmp_path.glob("u.*"))
    streamed = snac("decode", "--tokens", "-", "-", "--format", "raw", "-m", model, stdin=text)
    assert streamed.returncode == InputError.exit_code and b"second line of tokens" in streamed.stderr


@pytest.mark.parametrize("token", ["<snac_1 0>", "<sn ac_1>", "<snac_\n1>"])
def test_whitespace_inside_a_token_is_malformed_for_import_and_decode(tmp_path, checkpoint, token):
    """Whitespace stands between tokens, never inside one: `<snac_1 0>` is not code 10, and the error quotes
    the token as written."""
    text = (token + "<snac_1>" * 6 + "\n").encode()
    written = token.split("\n")[0]
    model = checkpoint("tiny-lm")
    for command in (["import", "-", tmp_path / "t.snac"], ["decode", "--tokens", "-", tmp_path / "t.wav"]):
        result = snac(*command, "-m", model, stdin=text)
        assert result.returncode == InputError.exit_code, result.stderr
        assert f"token at index 0: {written!r}" in result.stderr.decode() and result.stderr.count(b"\n") == 1
        assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", [["import"], ["decode", "--tokens"]])
def test_json_nested_past_the_parsers_depth_is_malformed_tokens(tmp_path, checkpoint, command):
    (tmp_path / "t.jsonl").write_bytes(b"[" * 100_000 + b"\n")
    out = tmp_path / ("t.snac" if command == ["import"] else "t.wav")
    result = snac(*command, tmp_path / "t.jsonl", out, "-m", checkpoint("tiny-lm"))
    stderr = result.stderr.decode()
    assert result.returncode == InputError.exit_code and "nested too deeply" in stderr, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("snac: error: ") and not out.exists()


@pytest.mark.parametrize("source", ["snac", "tokens file"])
def test_a_lookahead_decode_of_a_whole_input_ends_exactly(tmp_path, checkpoint, audio_file, source):
    """A file's length is known before its end: the push that reaches it guesses nothing, and the end is
    decoded exactly (as README says), for a .snac file and for tokens read whole."""
    tiny = checkpoint("tiny-lm")
    wav = audio_file("in.wav", rate=16000, seconds=1.0)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--normalize", "none").exit_code == 0
    if source == "snac":
        args = ["decode", tmp_path / "a.snac", "-", "--format", "raw"]
    else:
        assert invoke("export", tmp_path / "a.snac", "--format", "npy").exit_code == 0
        args = ["decode", "--tokens", tmp_path / "a.npy", "-", "--format", "raw", "-m", tiny]
    exact, early = snac(*args), snac(*args, "--lookahead", "0")
    assert exact.returncode == early.returncode == 0, early.stderr
    a, b = (np.frombuffer(r.stdout, dtype="<i2").astype(np.int32) for r in (exact, early))
    assert a.shape == b.shape and np.abs(a - b)[-2000:].max() <= 1  # float rounding at most


def test_a_byte_order_mark_at_the_start_of_token_text_is_skipped(tmp_path, checkpoint):
    lm = checkpoint("tiny-lm")
    text = b"\xef\xbb\xbf" + b"".join(b"<snac_%d>" % t for t in [1, 2, 3, 4, 5, 6, 7]) + b"\n"
    (tmp_path / "t.txt").write_bytes(text)
    assert invoke("import", tmp_path / "t.txt", tmp_path / "t.snac", "-m", lm).exit_code == 0
    for source, stdin in ((tmp_path / "t.txt", None), ("-", text)):
        result = snac("decode", "--tokens", source, "-", "--format", "raw", "-m", lm, stdin=stdin)
        assert result.returncode == 0 and result.stdout, result.stderr


@pytest.mark.parametrize(("name", "content", "message"), [
    ("t.npz", None, "a .npz holds codes per scale"),
    ("t.npy", "pickled", "a .npy of Python objects (pickled), which snac never loads"),
    ("t.txt", b"<snac_1>\n" * 65, "65 channels of tokens (lines or rows), past the limit of 64"),
    ("t.txt", b"<snac_1>\xff", "not UTF-8 text (byte 8 is not UTF-8)"),
])  # fmt: skip
def test_token_inputs_snac_cannot_read_are_said_in_its_own_words(tmp_path, checkpoint, good_snac, name, content,
                                                                  message):  # fmt: skip
    path = tmp_path / name
    if name.endswith(".npz"):
        assert invoke("export", good_snac, "--format", "npz", "-o", tmp_path).exit_code == 0
        (tmp_path / "good.npz").rename(path)
    elif content == "pickled":
        np.save(path, np.array([[1, 2]], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(content)
    for command in (["import", path, tmp_path / "o.snac"], ["decode", "--tokens", path, tmp_path / "o.wav"]):
        result = invoke(*command, "-m", checkpoint("tiny-lm"))
        assert result.exit_code == InputError.exit_code and f"{path}: {message}" in result.stderr, result.output
        assert "allow_pickle" not in result.stderr and not list(tmp_path.glob("o.*"))


def test_stdin_is_named_stdin_in_every_error_and_one_token_is_singular(checkpoint):
    for command, message in ((["import", "-", "-"], b"stdin: 1 token: not a whole number of frames of 7"),
                             (["decode", "--tokens", "-", "-"], b"stdin: the tokens end inside a frame")):  # fmt: skip
        result = snac(*command, "-m", checkpoint("tiny-lm"), stdin=b"<snac_1>")
        assert result.returncode == InputError.exit_code and result.stderr.startswith(b"snac: error: " + message)


def test_drop_frame_with_no_valid_frame_is_an_input_error_and_writes_nothing(tmp_path, checkpoint):
    (tmp_path / "t.txt").write_bytes(b"<snac_999999><snac_1><snac_2><snac_3><snac_4><snac_5><snac_6>\n")
    result = invoke("decode", "--tokens", tmp_path / "t.txt", tmp_path / "o.wav", "-m", checkpoint("tiny-lm"),
                    "--on-invalid", "drop-frame")  # fmt: skip
    assert result.exit_code == InputError.exit_code, result.output
    assert "no valid frame: 1 frame read, each with an invalid token" in result.stderr
    assert not (tmp_path / "o.wav").exists()


def test_token_text_on_a_pipe_that_is_not_utf8_is_said_as_for_a_file(tmp_path, checkpoint):
    result = snac("decode", "--tokens", "-", "-", "--format", "raw", "-m", checkpoint("tiny-lm"), stdin=b"<snac_1>\xff")
    assert result.returncode == InputError.exit_code, result.stderr
    assert result.stderr == b"snac: error: stdin: not UTF-8 text (byte 8 is not UTF-8)\n"

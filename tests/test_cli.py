"""The `snac` command line, end to end: real processes, real pipes, and one clear line for every bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from snac_cli import __version__
from snac_cli.errors import AudioError, ContainerError, InputError, ModelError, OutputError
from tests.helpers.cli import USAGE, invoke, snac


def one_clear_line(stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("snac: error: ") and expected in lines[0], lines[0]


def test_encode_decode_and_info_end_to_end(tmp_path, tiny, audio_file):
    wav = audio_file("speech.wav", rate=44100, channels=2, seconds=1.3)
    encoded = snac("encode", wav, tmp_path / "speech.snac", "-m", tiny, "--meta", "speaker=anna")
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == b""  # stdout carries data only when OUTPUT is -
    decoded = snac("decode", tmp_path / "speech.snac", tmp_path / "out.flac")
    assert decoded.returncode == 0, decoded.stderr
    info = sf.info(tmp_path / "out.flac")
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, sf.info(wav).frames)
    described = json.loads(invoke("info", tmp_path / "speech.snac", "--json").stdout)
    assert described["original_samples"] == info.frames
    assert described["metadata"] == {"speaker": "anna"}
    assert described["checksums"] == "ok"
    assert described["model"] == str(tiny.resolve())


def test_a_real_pipe_from_encode_to_decode(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", rate=8000, channels=1, seconds=2.1)
    shell = (
        f"{sys.executable} -m snac_cli encode - - -m {tiny} < {wav} "
        f"| {sys.executable} -m snac_cli decode - - > {tmp_path / 'out.wav'}"
    )
    result = subprocess.run(shell, shell=True, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    samples, rate = sf.read(tmp_path / "out.wav")
    assert rate == 8000 and samples.shape == (sf.info(wav).frames,)


def test_decode_to_stdout_writes_a_wav_with_its_exact_length(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", rate=16000, seconds=0.9)
    assert snac("encode", wav, tmp_path / "a.snac", "-m", tiny).returncode == 0
    result = snac("decode", tmp_path / "a.snac", "-", "--subtype", "PCM_24")
    (tmp_path / "out.wav").write_bytes(result.stdout)
    info = sf.info(tmp_path / "out.wav")
    assert (info.frames, info.subtype) == (sf.info(wav).frames, "PCM_24")


def test_roundtrip_writes_beside_the_input_and_reports(tmp_path, tiny, audio_file):
    wav = audio_file("clip.wav", rate=22050, seconds=1.0)
    result = invoke("roundtrip", wav, "-m", tiny, "--keep-snac", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    stem = f"clip.{tiny.name}"  # INPUT.MODEL beside the input
    assert Path(report["output"]) == tmp_path / f"{stem}.wav"
    assert sf.info(tmp_path / f"{stem}.wav").frames == sf.info(wav).frames
    assert (tmp_path / f"{stem}.snac").exists()
    assert {"si_sdr_db", "mel_distance", "encode_x_realtime", "decode_x_realtime", "bitrate_kbps"} <= set(report)
    table = invoke("roundtrip", wav, "-m", tiny, "-f")
    assert table.exit_code == 0 and "SI-SDR" in table.stdout and "mel distance" in table.stdout


def test_roundtrip_never_writes_over_its_input(tmp_path, tiny, audio_file):
    wav = audio_file("clip.wav", seconds=0.3)
    before = wav.read_bytes()
    result = invoke("roundtrip", wav, "-m", tiny, "-o", wav, "--force")
    assert result.exit_code == OutputError.exit_code
    assert wav.read_bytes() == before


@pytest.fixture
def bad_inputs(tmp_path, tiny, audio_file):
    """name -> (path, message) of inputs that must each fail with one line."""
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not audio at all\n" * 10)
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.inf, 0.1], dtype=np.float32), 8000, subtype="FLOAT")
    (tmp_path / "folder").mkdir()
    return {
        "missing": (tmp_path / "missing.wav", "no such file"),
        "empty": (tmp_path / "empty.wav", "empty file"),
        "text": (tmp_path / "notes.txt", "not a readable audio file"),
        "nan": (tmp_path / "nan.wav", "NaN or infinite"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "text", "nan"])
def test_bad_audio_is_one_line_and_an_input_error(tmp_path, tiny, bad_inputs, case):
    path, message = bad_inputs[case]
    result = snac("encode", path, tmp_path / "out.snac", "-m", tiny)
    assert result.returncode == AudioError.exit_code
    one_clear_line(result.stderr.decode(), message)
    assert not (tmp_path / "out.snac").exists()


def test_a_folder_input_needs_a_folder_output_and_some_audio(tmp_path, tiny):
    (tmp_path / "folder").mkdir()
    result = snac("encode", tmp_path / "folder", tmp_path / "out.snac", "-m", tiny)
    assert result.returncode == USAGE
    one_clear_line(result.stderr.decode(), "OUTPUT must be a folder too")
    result = snac("encode", tmp_path / "folder", tmp_path / "out", "-m", tiny)
    assert result.returncode == InputError.exit_code
    one_clear_line(result.stderr.decode(), "no audio files in")
    assert not (tmp_path / "out.snac").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_snac_file_is_rejected_and_leaves_no_output(tmp_path, good_snac, damage):
    data = bytearray(good_snac.read_bytes())
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    else:
        data[len(data) // 2] ^= 0x10
    good_snac.write_bytes(bytes(data))
    (tmp_path / "out.wav").write_bytes(b"older output")
    result = snac("decode", good_snac, tmp_path / "out.wav", "--force")
    assert result.returncode == ContainerError.exit_code
    one_clear_line(result.stderr.decode(), "truncated" if damage == "truncate" else "corrupted")
    assert (tmp_path / "out.wav").read_bytes() == b"older output"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert snac("info", good_snac).returncode == ContainerError.exit_code


def test_a_bad_model_is_a_model_error(tmp_path, audio_file):
    result = snac("encode", audio_file("in.wav", seconds=0.2), tmp_path / "o.snac", "-m", tmp_path / "nowhere")
    assert result.returncode == ModelError.exit_code
    one_clear_line(result.stderr.decode(), "no checkpoint folder")
    offline = snac("encode", audio_file("in.wav", seconds=0.2), tmp_path / "o.snac", "-m", "32khz")
    assert offline.returncode == ModelError.exit_code
    one_clear_line(offline.stderr.decode(), "hf download hubertsiuzdak/snac_32khz")


def test_a_file_whose_model_is_gone_names_it(tmp_path, good_snac, tiny):
    moved = tmp_path / "moved.snac"
    moved.write_bytes(good_snac.read_bytes())
    result = invoke("decode", moved, tmp_path / "x.wav", "-m", tmp_path / "gone")
    assert result.exit_code == ModelError.exit_code
    assert "gone" in result.stderr


def test_an_existing_output_needs_force(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", seconds=0.2)
    (tmp_path / "o.snac").write_bytes(b"mine")
    result = invoke("encode", wav, tmp_path / "o.snac", "-m", tiny)
    assert result.exit_code == OutputError.exit_code and "--force" in result.stderr
    assert (tmp_path / "o.snac").read_bytes() == b"mine"
    assert invoke("encode", wav, tmp_path / "o.snac", "-m", tiny, "--force").exit_code == 0
    assert (tmp_path / "o.snac").read_bytes()[:4] == b"SNAC"


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_is_an_existing_output(tmp_path, tiny, audio_file, dangling):
    wav, link, mine = audio_file("in.wav", seconds=0.2), tmp_path / "o.snac", tmp_path / "mine"
    if not dangling:
        mine.write_bytes(b"mine")
    link.symlink_to(mine)
    result = invoke("encode", wav, link, "-m", tiny)
    assert result.exit_code == OutputError.exit_code and "exists (use --force" in result.stderr
    assert link.is_symlink() and (dangling or mine.read_bytes() == b"mine")
    assert invoke("encode", wav, link, "-m", tiny, "--force").exit_code == 0
    assert not link.is_symlink() and link.read_bytes()[:4] == b"SNAC"  # the link replaced, never written through
    assert dangling or mine.read_bytes() == b"mine"


def test_force_keeps_the_permission_bits_of_the_file_it_replaces(tmp_path, tiny, audio_file):
    wav, out = audio_file("in.wav", seconds=0.2), tmp_path / "o.snac"
    out.write_bytes(b"mine")
    out.chmod(0o640)
    assert invoke("encode", wav, out, "-m", tiny, "--force").exit_code == 0
    assert (out.stat().st_mode & 0o777) == 0o640 and out.read_bytes()[:4] == b"SNAC"


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "in.wav", "o.snac", "--normalize", "loud"],
        ["encode", "in.wav", "o.snac", "--channels", "both"],
        ["decode", "in.snac", "o.wav", "--sample-rate", "fast"],
        ["decode", "in.snac", "o.wav", "--subtype", "PCM_8"],
        ["encode", "in.wav"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args):
    assert invoke(*args).exit_code == USAGE


def test_version_and_help():
    assert invoke("--version").stdout.strip() == f"snac {__version__}"
    help_text = invoke("--help").stdout
    for command in ("encode", "decode", "roundtrip", "info"):
        assert command in help_text


def test_help_and_info_never_import_torch(good_snac):
    blocker = (  # any import of torch fails in this process
        "import sys; sys.modules['torch'] = None\n"
        "from snac_cli.cli import main; sys.argv = ['snac', *sys.argv[1:]]; main()"
    )
    for args in (["--help"], ["info", str(good_snac)], ["info", "--json", str(good_snac)]):
        result = subprocess.run([sys.executable, "-c", blocker, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr


def test_decode_can_resample_and_pick_the_sample_format(tmp_path, good_snac):
    assert (
        invoke("decode", good_snac, tmp_path / "a.wav", "--sample-rate", "48000", "--subtype", "FLOAT").exit_code == 0
    )
    info = sf.info(tmp_path / "a.wav")
    assert (info.samplerate, info.subtype) == (48000, "FLOAT")
    assert abs(info.frames - 48000 * 0.5) <= 1
    assert invoke("decode", good_snac, tmp_path / "b.wav", "--sample-rate", "model").exit_code == 0
    assert sf.info(tmp_path / "b.wav").samplerate == 16000


def test_decoding_twice_gives_the_same_audio_and_the_seed_matters(tmp_path, good_snac):
    for name, seed in [("a.wav", "0"), ("b.wav", "0"), ("c.wav", "5")]:
        assert invoke("decode", good_snac, tmp_path / name, "--seed", seed).exit_code == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, tiny, audio_file):
    result = snac("encode", audio_file("in.wav", seconds=1.0), tmp_path / "o.snac", "-m", tiny)
    assert result.returncode == 0 and result.stderr == b""
    assert os.path.getsize(tmp_path / "o.snac") > 0


def test_decode_from_a_pipe_writes_audio_before_the_input_ends(tmp_path, tiny, audio_file):
    wav = audio_file("long.wav", rate=16000, seconds=12.0)  # several container chunks for the tiny model
    assert invoke("encode", wav, tmp_path / "long.snac", "-m", tiny, "--normalize", "none").exit_code == 0
    data = (tmp_path / "long.snac").read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-m", "snac_cli", "decode", "-", "-", "--chunk-seconds", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin and child.stdout
    child.stdin.write(data[: len(data) // 2])  # half the file: the first chunks, then the pipe stays open
    child.stdin.flush()
    first = child.stdout.read(4096)  # blocks until the decoder has written audio
    assert first[:4] == b"RIFF"
    child.stdin.write(data[len(data) // 2 :])
    child.stdin.close()
    rest = child.stdout.read()
    assert child.wait(timeout=120) == 0
    (tmp_path / "out.wav").write_bytes(first + rest)
    samples, _ = sf.read(tmp_path / "out.wav")
    assert len(samples) == sf.info(wav).frames


def test_encode_to_a_pipe_writes_codes_before_the_input_ends(tmp_path, tiny, audio_file):
    wav = audio_file("long.wav", rate=16000, seconds=12.0)
    data = wav.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-m", "snac_cli", "encode", "-", "-", "-m", str(tiny), "--normalize", "none"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdin and child.stdout
    child.stdin.write(data[: len(data) * 3 // 4])
    child.stdin.flush()
    first = child.stdout.read(64)  # the header and the first chunk come while stdin is still open
    assert first[:4] == b"SNAC"
    child.stdin.write(data[len(data) * 3 // 4 :])
    child.stdin.close()
    rest = child.stdout.read()
    assert child.wait(timeout=120) == 0
    (tmp_path / "out.snac").write_bytes(first + rest)
    assert json.loads(invoke("info", tmp_path / "out.snac", "--json").stdout)["original_samples"] == 12 * 16000


def test_an_unavailable_device_or_precision_is_a_usage_error(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", seconds=0.2)
    import torch

    if not torch.cuda.is_available():
        result = invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--device", "cuda")
        assert result.exit_code == USAGE and "CUDA is not available" in result.stderr
        result = invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--precision", "fp16")
        assert result.exit_code == USAGE and "fp16 runs on CUDA only" in result.stderr
    result = invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--device", "tpu")
    assert result.exit_code == USAGE and "device 'tpu'" in result.stderr


def test_bf16_is_an_explicit_lossy_choice_that_still_round_trips(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", rate=16000, seconds=0.7)
    result = invoke("roundtrip", wav, "-m", tiny, "--precision", "bf16", "--json", "-o", tmp_path / "r.wav")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["precision"] == "bf16"
    assert sf.info(tmp_path / "r.wav").frames == sf.info(wav).frames


def forged(path: Path, target: Path, **changes) -> Path:
    import dataclasses

    from snac_cli.format.container import read_snac, write_snac

    write_snac(target, dataclasses.replace(read_snac(path), **changes))
    return target


@pytest.mark.parametrize("length", [10**10, 10**5, 0])
def test_a_header_whose_length_the_codes_do_not_cover_is_refused(tmp_path, good_snac, length):
    bad = forged(good_snac, tmp_path / "bad.snac", original_length=length)
    result = snac("decode", bad, tmp_path / "out.wav")
    assert result.returncode == ContainerError.exit_code and not (tmp_path / "out.wav").exists()
    one_clear_line(result.stderr.decode(), "does not match its codes")
    piped = snac("decode", "-", "-", stdin=bad.read_bytes())
    assert piped.returncode == ContainerError.exit_code and "MemoryError" not in piped.stderr.decode()


@pytest.mark.parametrize("rate", [44100, 48000])
def test_a_single_sample_encodes_to_a_file_that_decodes_to_one_sample(tmp_path, tiny, rate):
    sf.write(tmp_path / "one.wav", np.array([0.5], dtype=np.float32), rate)
    assert invoke("encode", tmp_path / "one.wav", tmp_path / "one.snac", "-m", tiny).exit_code == 0
    assert invoke("decode", tmp_path / "one.snac", tmp_path / "back.wav").exit_code == 0
    assert sf.info(tmp_path / "back.wav").frames == 1


def test_normalizing_a_pipe_measures_the_whole_input_as_for_the_file(tmp_path, tiny):
    rate = 16000
    quiet = np.random.default_rng(0).standard_normal(40 * rate) * 0.001  # 40 s, past any window on its start
    loud = 0.9 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate)
    sf.write(tmp_path / "in.wav", np.concatenate([quiet, loud]).astype(np.float32), rate, subtype="FLOAT")
    by_path = snac("encode", tmp_path / "in.wav", tmp_path / "path.snac", "-m", tiny)
    by_pipe = snac("encode", "-", tmp_path / "pipe.snac", "-m", tiny, stdin=(tmp_path / "in.wav").read_bytes())
    assert by_path.returncode == by_pipe.returncode == 0
    from snac_cli.format.container import read_snac

    gain = read_snac(tmp_path / "path.snac").gain
    assert gain * 0.9 <= 0.99  # the loud end stays under the 0.99 peak ceiling...
    assert (tmp_path / "pipe.snac").read_bytes() == (tmp_path / "path.snac").read_bytes()  # ...on a pipe too


@pytest.mark.parametrize("normalize", ["none", "loudness"])
def test_cat_file_into_encode_gives_the_codes_of_the_file(tmp_path, tiny, normalize):
    import struct

    samples = (np.random.default_rng(3).standard_normal(8001) * 3000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    chunks = b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 7000) + samples  # short size
    wav = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + chunks + b"LIST\x04\x00\x00\x00abcd"
    (tmp_path / "odd.wav").write_bytes(wav)
    args = ["-m", tiny, "--normalize", normalize]
    assert snac("encode", tmp_path / "odd.wav", tmp_path / "file.snac", *args).returncode == 0
    assert snac("encode", "-", tmp_path / "pipe.snac", *args, stdin=wav).returncode == 0
    assert (tmp_path / "pipe.snac").read_bytes() == (tmp_path / "file.snac").read_bytes()


def test_binary_data_is_never_written_to_a_terminal(tmp_path, good_snac):
    import pty

    controller, terminal = pty.openpty()
    try:
        for args in (["decode", good_snac, "-"], ["cut", good_snac, "-o", "-"], ["export", good_snac, "-o", "-"]):
            result = subprocess.run(
                [sys.executable, "-m", "snac_cli", *map(str, args)],
                stdout=terminal,
                stderr=subprocess.PIPE,
                timeout=300,
            )
            assert result.returncode == USAGE, args
            one_clear_line(result.stderr.decode(), "refusing to write binary data to a terminal")
    finally:
        os.close(controller)
        os.close(terminal)


def test_errors_about_a_snac_file_name_it(tmp_path, good_snac):
    broken = tmp_path / "broken.snac"
    broken.write_bytes(good_snac.read_bytes()[:-3])
    for args in (["concat", good_snac, broken, "-o", tmp_path / "j.snac"], ["info", broken], ["export", broken],
                 ["cut", broken, "-o", tmp_path / "c.snac"], ["decode", broken, tmp_path / "d.wav"]):  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == ContainerError.exit_code and f"{broken}: truncated" in result.stderr, args
    other = forged(good_snac, tmp_path / "other.snac", original_sample_rate=8000, original_length=4000)
    result = invoke("concat", good_snac, other, "-o", tmp_path / "j.snac")
    assert f"{other}: cannot join it to {good_snac}" in result.stderr


def test_info_shows_untrusted_text_escaped(tmp_path, good_snac):
    evil = forged(good_snac, tmp_path / "evil.snac", metadata={"a\nModel": "fake\x1b[31mred\r"})
    text = invoke("info", evil).stdout
    assert "\x1b" not in text and "\r" not in text
    assert len([line for line in text.splitlines() if line.startswith("Model:")]) == 1  # no faked line
    assert "meta:a\\nModel: fake\\x1b[31mred\\r" in text


def test_many_channels_mix_down_and_keep_is_refused_past_its_limit(tmp_path, tiny):
    sf.write(tmp_path / "wide.wav", np.random.default_rng(0).uniform(-0.5, 0.5, (800, 65)).astype(np.float32), 8000)
    assert invoke("encode", tmp_path / "wide.wav", tmp_path / "mix.snac", "-m", tiny).exit_code == 0
    assert invoke("decode", tmp_path / "mix.snac", tmp_path / "mix.wav").exit_code == 0
    assert sf.info(tmp_path / "mix.wav").channels == 65
    result = invoke("encode", tmp_path / "wide.wav", tmp_path / "keep.snac", "-m", tiny, "--channels", "keep")
    assert result.exit_code == USAGE and "at most 64 channels" in result.stderr
    mp3 = invoke("decode", tmp_path / "mix.snac", tmp_path / "mix.mp3", "-m", tmp_path / "gone")
    assert mp3.exit_code == USAGE and "MP3 holds at most 2 channels" in mp3.stderr  # before the model loads


def test_a_folder_takes_every_format_single_files_take(tmp_path, tiny):
    for name, fmt in [("a.caf", "CAF"), ("b.au", "AU"), ("c.w64", "W64"), ("d.aifc", "AIFF")]:
        (tmp_path / "in").mkdir(exist_ok=True)
        sf.write(tmp_path / "in" / name,
                 np.zeros(800, dtype=np.float32), 8000, format=fmt)  # fmt: skip
    assert invoke("encode", tmp_path / "in", tmp_path / "out", "-m", tiny).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.snac")) == ["a.snac", "b.snac", "c.snac", "d.snac"]


def test_meta_that_is_not_utf8_is_a_usage_error(tmp_path, tiny, audio_file):
    wav = audio_file("in.wav", seconds=0.3)
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"snac_cli", b"encode", bytes(wav), bytes(tmp_path / "o.snac"),
         b"-m", bytes(tiny), b"--meta", b"k=caf\xe9"], capture_output=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == USAGE and not (tmp_path / "o.snac").exists()
    one_clear_line(result.stderr.decode(), "is not UTF-8 text")


def test_ray_without_a_cluster_is_one_usage_error(tmp_path, tiny, audio_file):
    audio_file("in.wav", seconds=0.3)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, "-m", "snac_cli", "encode", str(tmp_path), str(tmp_path / "out"), "-m", str(tiny),
         "--ray=auto"], capture_output=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == USAGE
    one_clear_line(result.stderr.decode(), "--ray=auto found no Ray cluster")


def test_the_inference_window_does_not_change_a_decode(tmp_path, tiny, audio_file):
    """Decoding streams exactly (positional noise, no seams): --chunk-seconds trades memory, never output,
    and a pipe decodes to the file's samples."""
    wav = audio_file("in.wav", rate=16000, channels=2, seconds=2.5)
    assert invoke("encode", wav, tmp_path / "a.snac", "-m", tiny, "--channels", "keep").exit_code == 0
    outputs = []
    for window in ("0.1", "0.37", "60"):
        target = tmp_path / f"w{window}.wav"
        assert (
            invoke("decode", tmp_path / "a.snac", target, "--chunk-seconds", window, "--subtype", "FLOAT").exit_code
            == 0
        )
        outputs.append(sf.read(target)[0])
    piped = snac("decode", "-", "-", "--subtype", "FLOAT", stdin=(tmp_path / "a.snac").read_bytes())
    outputs.append(sf.read(io.BytesIO(piped.stdout))[0])
    assert all(np.abs(outputs[0] - other).max() <= 1e-5 for other in outputs[1:])  # float rounding alone


@pytest.mark.parametrize("args, message", [
    (["-", "--format", "flac"], "stdout carries wav or raw only"),
    (["-", "--format", "xyz"], "stdout carries wav or raw only"),
    (["out.wav", "--format", "flac"], "a file's format is its extension's"),
    (["--tokens", "-", "--format", "ogg"], "stdout carries wav or raw only"),
])  # fmt: skip
def test_a_format_the_output_cannot_carry_is_refused_before_any_work(tmp_path, good_snac, args, message):
    """`snac decode x.snac - --format flac` does not write WAV instead: stdout carries WAV or raw PCM."""
    source = ["decode", good_snac] if args[0] != "--tokens" else ["decode", "--tokens", tmp_path / "t.txt"]
    args = args[1:] if args[0] == "--tokens" else args
    result = snac(*source, *[tmp_path / a if a == "out.wav" else a for a in args], cwd=tmp_path)
    assert result.returncode == USAGE and message in result.stderr.decode(), result.stderr
    assert result.stdout == b"" and not (tmp_path / "out.wav").exists()


def test_a_list_run_into_stdout_is_refused(tmp_path, good_snac, monkeypatch):
    """With --files-from, the one argument is the output folder: `-` is not one (no folder named `-`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.txt").write_text(f"{good_snac}\n")
    for command in ("decode", "encode"):
        result = invoke(command, "--files-from", tmp_path / "list.txt", "-")
        assert result.exit_code == USAGE and "not - (stdout)" in result.stderr, result.output
    assert not (tmp_path / "-").exists()


def test_the_readme_gives_each_models_frame_duration():
    from tests.helpers.checkpoints import CONFIGS

    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    figures = []
    for name in ("24khz", "32khz", "44khz"):
        c = CONFIGS[name]
        samples = np.prod(c["encoder_rates"]) * np.lcm.reduce(c["vq_strides"])
        figures.append(f"{round(1000 * samples / c['sampling_rate'])} ms at {c['sampling_rate'] / 1000:g} kHz")
    assert f"a frame is one coarsest code: {', '.join(figures)}" in readme, figures

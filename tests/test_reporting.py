"""How snac ends: every failure is one line with a documented exit code; usage is checked before any work;
signals clean up; help reads as written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from snac_cli.cli import app
from snac_cli.cli.reporting import INTERNAL_ERROR, TERMINATED
from tests.helpers.cli import INPUT, OUTPUT, USAGE, runner

COMMANDS = ["encode", "decode", "roundtrip", "info", "export", "import", "cut", "concat"]


def one_line(stderr: str, start: str = "snac: error: ") -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith(start), lines[0]
    return lines[0]


@pytest.fixture
def inputs(tmp_path, tiny, audio_file):
    """A short clip, its .snac file, and a model folder that does not exist (loading it would fail with 4)."""
    wav = audio_file("in.wav", seconds=0.4)
    code = tmp_path / "in.snac"
    assert runner.invoke(app, ["encode", str(wav), str(code), "-m", str(tiny)]).exit_code == 0
    return {"WAV": str(wav), "SNAC": str(code), "GONE": str(tmp_path / "no-model"), "OUT": str(tmp_path / "o")}


USAGE_ERRORS = [
    ["decode", "SNAC", "-x"],  # an unknown option
    ["encode", "WAV", "OUT.snac", "--normalize", "bogus"],  # an unknown choice
    ["encode"],  # a missing argument
    ["encode", "WAV", "OUT.snac", "--jobs", "abc"],
    *[["encode", "WAV", "OUT.snac", "--chunk-seconds", v, "-m", "GONE"] for v in ("inf", "nan", "-inf", "0", "1e400")],
    *[["encode", "WAV", "OUT", "--batch-seconds", v, "-m", "GONE"] for v in ("inf", "nan", "-1")],
    ["encode", "WAV", "OUT", "--jobs", "100000"],
    *[["cut", "SNAC", "-o", "OUT.snac", f"--{which}", v] for which in ("start", "end") for v in ("nan", "inf", "-1")],
    *[["decode", "SNAC", "OUT.wav", "--seed", v] for v in ("-1", "1e20", str(2**64))],
    *[["decode", "SNAC", "-", "--lookahead", v, "-m", "GONE"] for v in ("-1", "1.5", "nan", "1025")],
    ["decode", "SNAC", "OUT.wav", "--lookahead", "1", "-m", "GONE"],  # only for audio written as it is decoded
    *[["decode", "SNAC", "OUT.wav", "--sample-rate", v] for v in ("0", "-8000", "nan", "999999999")],
    *[["export", "SNAC", "--base", v] for v in ("-1", "1e20", str(2**63 - 1))],
    *[
        ["export", "SNAC", "--format", "tokens", "--template", t]
        for t in ("abc", "{0}{1}", "{x}", "{}{}", "{}", "< {}>")
    ],
    *[["import", "SNAC", "OUT.snac", "--template", t] for t in ("abc", "{}{}")],
    *[
        [*cmd, "--template", t]
        for cmd in (["export", "SNAC", "--format", "tokens"], ["import", "SNAC", "OUT.snac"])
        for t in ("1{}", "9x{}")
    ],  # 12 then 13 would read back as 1213: what export writes, import must read
    ["encode", "WAV", "OUT.snac", "--meta", "novalue"],
    ["encode", "WAV", "OUT.snac", "--meta", "k=" + "v" * 5000, "-m", "GONE"],
    ["encode", "WAV", "OUT.snac", "-m", "GONE", *[a for i in range(257) for a in ("--meta", f"k{i}=v")]],
    ["encode", "WAV", "OUT.snac", "--meta", "snac.source=1:2:3"],
    # Output checks come before the model loads (GONE would be a model error, exit 4):
    ["decode", "SNAC", "OUT.xyz", "-m", "GONE"],
    ["decode", "SNAC", "OUT.flac", "--subtype", "FLOAT", "-m", "GONE"],
    ["decode", "SNAC", "OUT.flac", "--sample-rate", "768000", "-m", "GONE"],
    ["decode", "SNAC", "OUT.ogg", "--sample-rate", "768000", "-m", "GONE"],  # libvorbis would crash
    ["decode", "SNAC", "OUT.mp3", "--sample-rate", "96000", "-m", "GONE"],
    ["roundtrip", "WAV", "-o", "OUT.xyz", "-m", "GONE"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda args: " ".join(args)[:60])
def test_every_usage_error_is_one_line_and_exit_2_before_any_work(inputs, args):
    result = runner.invoke(app, [inputs.get(a, a) if a in inputs else a.replace("OUT", inputs["OUT"]) for a in args])
    assert result.exit_code == USAGE, result.output
    one_line(result.stderr)
    assert not list(Path(inputs["OUT"]).parent.glob("o*")) and not list(Path(inputs["OUT"]).parent.glob(".*part"))


def test_a_folder_decode_checks_its_format_before_any_file(tmp_path, inputs):
    result = runner.invoke(app, ["decode", str(Path(inputs["SNAC"]).parent), str(tmp_path / "d"), "--format", "xyz"])
    assert result.exit_code == USAGE and "unknown output format" in one_line(result.stderr)
    assert not (tmp_path / "d" / "manifest.jsonl").exists()


def test_an_unexpected_exception_is_one_line_naming_itself_with_its_own_code(inputs, monkeypatch):
    import snac_cli.codec.encoding

    def broken(*args, **kwargs):
        raise RuntimeError("the kernel fell over")

    monkeypatch.setattr(snac_cli.codec.encoding, "load_coder", broken)
    result = runner.invoke(app, ["encode", inputs["WAV"], inputs["OUT"] + ".snac"])
    assert result.exit_code == INTERNAL_ERROR
    line = one_line(result.stderr, "snac: internal error: RuntimeError: the kernel fell over")
    assert "report" in line and "--debug" in line
    debug = runner.invoke(app, ["--debug", "encode", inputs["WAV"], inputs["OUT"] + ".snac"])
    assert debug.exit_code == INTERNAL_ERROR and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "sig, code, word", [(signal.SIGTERM, TERMINATED, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_mid_encode_removes_the_partial_file(tmp_path, tiny, audio_file, sig, code, word):
    wav = audio_file("long.wav", rate=16000, seconds=120)
    out = tmp_path / "long.snac"
    child = subprocess.Popen(
        [sys.executable, "-m", "snac_cli", "encode", str(wav), str(out), "-m", str(tiny), "--normalize", "none"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".long.snac.*.part")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(tmp_path.glob(".long.snac.*.part")), "the encode never started writing"
    child.send_signal(sig)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == code
    assert one_line(stderr.decode(), "snac: ") == f"snac: {word}"
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_after_the_command_is_reported_keeps_its_exit_code(sig):
    """Ray's exit handlers run after the summary: a signal then ends the process with the command's status."""
    script = (
        "import os, signal, time; from snac_cli.cli import reporting; reporting.exit_on_signals(3);"
        f" os.kill(os.getpid(), {int(sig)}); time.sleep(30)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 3 and done.stderr == b"", done.stderr


def test_a_closed_output_pipe_ends_snac_quietly(tmp_path, inputs):
    shell = f"{sys.executable} -m snac_cli decode {inputs['SNAC']} - --sample-rate 192000 | head -c 100 > /dev/null"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, timeout=300)
    assert result.returncode in (0, 141) and result.stderr == b"", result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reads_as_written(command):
    text = runner.invoke(app, [command, "--help"]).stdout
    for unwanted in ("<bool>", "<str>", "{", "╭", "Value error"):
        if unwanted == "{" and command in ("export", "import", "decode"):  # the token template
            text = text.replace("{} for its number", "").replace("<snac_{}>", "")
        assert unwanted not in text, f"{unwanted!r} in {command} --help"
    assert "[default:" in text or command in ("info", "concat")


def test_help_keeps_its_bracketed_text():
    text = " ".join(runner.invoke(app, ["encode", "--help"]).stdout.split())
    assert "snac-cli[ray]" in text and "[default: OUTPUT/manifest.jsonl]" in text
    assert "[default: one inference window's worth]" in text and "[default: 5 at 24 kHz" in text


def test_unreadable_inputs_are_input_errors_named_so(tmp_path, inputs, monkeypatch):
    import snac_cli.cli.streams

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(snac_cli.cli.streams, "open", denied, raising=False)  # what binary_input opens
    commands = [["info", "SNAC"], ["decode", "SNAC", "OUT.wav"], ["cut", "SNAC", "-o", "OUT.snac"], ["export", "SNAC"],
                ["concat", "SNAC", "SNAC", "-o", "OUT.snac"], ["import", "SNAC", "OUT.snac"]]  # fmt: skip
    for args in commands:
        result = runner.invoke(app, [inputs.get(a, a.replace("OUT", inputs["OUT"])) for a in args])
        assert result.exit_code == INPUT, (args, result.output)
        assert "cannot read it (Permission denied)" in one_line(result.stderr)
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as root, chmod 000 would not stop a read
    result = runner.invoke(app, ["encode", inputs["WAV"], inputs["OUT"] + ".snac"])
    assert result.exit_code == INPUT and "cannot read it (permission denied)" in one_line(result.stderr)


CLOSED = [
    (1, ["decode", "SNAC", "-"], OUTPUT, "stdout: is closed"),
    (1, ["decode", "SNAC", "-", "--format", "raw"], OUTPUT, "stdout: is closed"),
    (1, ["encode", "WAV", "-", "-m", "GONE"], OUTPUT, "stdout: is closed"),
    (1, ["export", "SNAC", "--format", "tokens", "-o", "-"], OUTPUT, "stdout: is closed"),
    (1, ["export", "SNAC", "--format", "npy", "-o", "-"], OUTPUT, "stdout: is closed"),
    (0, ["encode", "-", "OUT.snac", "-m", "GONE"], INPUT, "stdin: is closed"),
    (0, ["decode", "-", "OUT.wav"], INPUT, "stdin: is closed"),
    (0, ["decode", "--tokens", "-", "OUT.wav", "-m", "GONE"], INPUT, "stdin: is closed"),
    (0, ["import", "-", "OUT.snac"], INPUT, "stdin: is closed"),
    (0, ["info", "-"], INPUT, "stdin: is closed"),
    (0, ["encode", "--files-from", "-", "OUT", "-m", "GONE"], INPUT, "stdin: is closed"),
]


@pytest.mark.parametrize(("fd", "args", "code", "message"), CLOSED)
def test_a_closed_stdin_or_stdout_is_one_line_naming_it(inputs, fd, args, code, message):
    command = [sys.executable, "-m", "snac_cli", *[inputs.get(a, a.replace("OUT", inputs["OUT"])) for a in args]]
    result = subprocess.run(command, stdout=subprocess.PIPE if fd else None, stderr=subprocess.PIPE,
                            preexec_fn=lambda: os.close(fd), timeout=300)  # fmt: skip
    assert result.returncode == code and message in one_line(result.stderr.decode()), result.stderr
    assert not Path(inputs["OUT"]).exists() and not list(Path(inputs["OUT"]).parent.glob(".*.part"))


def test_closed_standard_streams_do_not_stop_work_that_needs_none(tmp_path, inputs, tiny):
    out = tmp_path / "x.snac"
    command = [sys.executable, "-m", "snac_cli", "encode", inputs["WAV"], str(out), "-m", str(tiny)]
    result = subprocess.run(command, stderr=subprocess.PIPE, preexec_fn=lambda: (os.close(0), os.close(1)), timeout=300)
    assert result.returncode == 0 and result.stderr == b"", result.stderr
    assert runner.invoke(app, ["info", str(out)]).exit_code == 0


@pytest.mark.parametrize("args", [["encode", "-", "OUT.snac", "-m", "GONE"], ["decode", "-", "OUT.wav"],
                                  ["decode", "--tokens", "-", "OUT.wav", "-m", "GONE"], ["import", "-", "OUT.snac"],
                                  ["info", "-"], ["encode", "--files-from", "-", "OUT", "-m", "GONE"]])  # fmt: skip
def test_stdin_on_a_terminal_is_refused_not_waited_on(inputs, args):
    ours, theirs = os.openpty()
    try:
        command = [sys.executable, "-m", "snac_cli", *[inputs.get(a, a.replace("OUT", inputs["OUT"])) for a in args]]
        result = subprocess.run(command, stdin=theirs, capture_output=True, timeout=60)  # as gzip: no wait
    finally:
        os.close(ours), os.close(theirs)
    assert result.returncode == USAGE and "from a terminal" in one_line(result.stderr.decode()), result.stderr
    assert not Path(inputs["OUT"]).exists()


def test_an_input_past_the_formats_sample_rate_is_refused_before_the_model_loads(tmp_path, inputs):
    import soundfile as sf

    wav = tmp_path / "fast.wav"
    sf.write(wav, np.zeros(4000, dtype=np.float32), 2_000_000)
    for args in (["encode", wav, tmp_path / "o.snac"], ["roundtrip", wav, "-o", tmp_path / "o.wav"]):
        result = runner.invoke(app, [*map(str, args), "-m", inputs["GONE"]])  # GONE: loading it would exit 4
        assert result.exit_code == INPUT, result.output
        assert one_line(result.stderr).endswith("a sample rate of 2,000,000 Hz is past snac's limit of 1,048,576 Hz")


@pytest.mark.parametrize("args", [["encode", "WAV", "OUT.snac", "--chunk-seconds", "nan"],
                                  ["encode", "WAV", "OUT", "--batch-seconds", "inf"],
                                  ["cut", "SNAC", "-o", "OUT.snac", "--start", "nan"]])  # fmt: skip
def test_nan_and_infinity_are_no_number_not_out_of_range(inputs, args):
    result = runner.invoke(app, [inputs.get(a, a.replace("OUT", inputs["OUT"])) for a in args])
    assert result.exit_code == USAGE and "is not a number of seconds" in one_line(result.stderr)
    assert "should be" not in result.stderr and "less than" not in result.stderr


@pytest.mark.parametrize(("args", "flags"), [
    (["decode", "SNAC", "OUT.wav", "--offsets", "position"], "--offsets: only for --tokens"),
    (["decode", "SNAC", "OUT.wav", "--on-invalid", "drop-frame", "--base", "5"],
     "--base, --on-invalid: only for --tokens"),
    (["decode", "SNAC", "OUT.wav", "--manifest", "OUT.jsonl"], "--manifest: only for a folder or list of files"),
    (["decode", "SNAC", "OUT.wav", "--jobs", "2"], "--jobs: only for a folder or list of files"),
    (["encode", "WAV", "OUT.snac", "--manifest", "OUT.jsonl"], "--manifest: only for a folder or list of files"),
    (["encode", "WAV", "OUT.snac", "--batch-seconds", "0"], "--batch-seconds: only for a folder or list of files"),
    (["export", "SNAC", "-o", "-", "--format", "jsonl", "--template", "<t{}>"], "--template: only for --format tokens"),
    (["export", "SNAC", "--format", "npz", "--offsets", "scale"], "--offsets: only for flat tokens"),
])  # fmt: skip
def test_options_that_do_not_apply_are_refused_not_ignored(inputs, args, flags):
    result = runner.invoke(app, [inputs.get(a, a.replace("OUT", inputs["OUT"])) for a in args])
    assert result.exit_code == USAGE and one_line(result.stderr).startswith(f"snac: error: {flags}")
    assert not list(Path(inputs["OUT"]).parent.glob("o*"))


def test_debug_after_the_command_means_what_it_does_before(inputs):
    args = [sys.executable, "-m", "snac_cli", "info", inputs["WAV"], "--debug"]
    result = subprocess.run(args, capture_output=True, timeout=60)
    assert result.returncode == INPUT and b"No such option" not in result.stderr, result.stderr


def test_a_config_nested_past_the_parsers_depth_is_a_bad_checkpoint(tmp_path, inputs, tiny):
    import shutil

    model = tmp_path / "deep"
    shutil.copytree(tiny, model)
    (model / "config.json").write_text("[" * 100_000)
    (tmp_path / "t.txt").write_text("<snac_1>" * 6 + "\n")
    for args in (
        ["encode", inputs["WAV"], inputs["OUT"] + ".snac"],
        ["import", str(tmp_path / "t.txt"), inputs["OUT"]],
    ):
        result = runner.invoke(app, [*args, "-m", str(model)])
        assert result.exit_code == 4 and "nested too deeply" in one_line(result.stderr), result.output


def test_help_gives_each_command_its_own_defaults():
    def help_of(command: str) -> str:
        return " ".join(runner.invoke(app, [command, "--help"]).stdout.split())

    encode, decode = help_of("encode"), help_of("decode")
    assert "[default: 5 at 24 kHz, 4.6 at 32, 3.4 at 44.1]" in encode and "3 decode" not in encode
    assert "[default: 3, 0.5 with attention]" in decode and "5 encode" not in decode
    for command in ("decode", "import"):  # --format tokens is export's
        assert "--format tokens" not in help_of(command)

"""Writing audio files when the disk says no (audio/writer.py): every format ends in one line and exit 5 with
no partial file and the old output intact (before, WAV and AIFF were an internal error, and FLAC, Ogg and
MP3 printed 7 to 2,585 lines of tracebacks from libsndfile's callbacks)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

import pytest


def file_size_limit() -> None:
    """A limit on the size of any file written: writes past it fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


@pytest.mark.parametrize("extension", ["wav", "aiff", "flac", "ogg", "mp3"])
def test_a_write_that_fails_is_one_line_and_leaves_the_old_output(tmp_path, tiny, audio_file, extension):
    wav = audio_file("in.wav", rate=16000, seconds=10.0)
    snac = tmp_path / "in.snac"
    subprocess.run([sys.executable, "-m", "snac_cli", "encode", wav, snac, "-m", tiny, "-q"], check=True)
    target = tmp_path / f"out.{extension}"
    target.write_bytes(b"the old output")
    command = [sys.executable, "-m", "snac_cli", "decode", snac, target, "-f", "-q"]
    result = subprocess.run(command, preexec_fn=file_size_limit, capture_output=True, text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 5 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0] == f"snac: error: {target}: cannot write (File too large)"
    assert target.read_bytes() == b"the old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.snac", "in.wav", target.name]

"""Folders and lists of files: a mirrored tree, batched short clips, resume, a manifest, failures recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import music_like, speech_like
from typer.testing import CliRunner

from snac_cli.batch import Job, plan, read_list, relative_target
from snac_cli.cli import app
from snac_cli.container import read_snac
from snac_cli.errors import InputError
from snac_cli.files import partial_of
from snac_cli.tasks import units_of

runner = CliRunner()


def invoke(*args, stdin: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=stdin)


def write_clip(path: Path, seconds: float, rate: int = 16000, channels: int = 1, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    make = [speech_like, music_like]
    sf.write(path, np.stack([make[c % 2](rate, n, seed=seed + c) for c in range(channels)], axis=1), rate)
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small tree: short clips at several rates and channel counts, one long clip, one broken file."""
    root = tmp_path / "in"
    for i in range(6):
        write_clip(root / "speaker1" / f"clip{i}.wav", 0.2 + 0.15 * i, seed=i)
    write_clip(root / "speaker2" / "stereo.flac", 0.7, rate=44100, channels=2, seed=9)
    write_clip(root / "speaker2" / "long.wav", 6.0, rate=8000, seed=11)
    (root / "speaker2" / "broken.wav").write_bytes(b"RIFF not really a wav file")
    (root / "notes.txt").write_text("not audio, not picked up")
    return root


def manifest(path: Path) -> dict[str, dict]:
    return {Path(r["input"]).name: r for r in map(json.loads, path.read_text().splitlines())}


def test_a_folder_encodes_to_a_mirrored_tree_with_a_manifest(tmp_path, tiny, corpus):
    out = tmp_path / "out"
    result = invoke("encode", corpus, out, "-m", tiny)
    assert result.exit_code == InputError.exit_code  # the broken file fails the run...
    assert "1 of 9 files failed" in result.stderr
    records = manifest(out / "manifest.jsonl")
    assert records["broken.wav"]["status"] == "failed" and "not a readable audio file" in records["broken.wav"]["error"]
    assert not (out / "speaker2" / "broken.snac").exists()  # ...but nothing else stops
    for name in [f"speaker1/clip{i}" for i in range(6)] + ["speaker2/stereo", "speaker2/long"]:
        snac = read_snac(out / f"{name}.snac")
        record = records[Path(name).name + (".flac" if name.endswith("stereo") else ".wav")]
        assert record["status"] == "ok"
        assert record["frames"] == [c.shape[-1] for c in snac.codes]
        assert record["seconds"] == pytest.approx(snac.original_length / snac.original_sample_rate)
    assert "notes" not in "".join(records)


def test_batched_clips_get_the_codes_of_single_encodes(tmp_path, tiny, corpus):
    out = tmp_path / "out"
    invoke("encode", corpus, out, "-m", tiny)
    for clip in ["speaker1/clip0.wav", "speaker1/clip5.wav", "speaker2/stereo.flac", "speaker2/long.wav"]:
        single = tmp_path / "single.snac"
        assert invoke("encode", corpus / clip, single, "-m", tiny, "-f").exit_code == 0
        a, b = read_snac(single), read_snac(out / Path(clip).with_suffix(".snac"))
        assert a.original_length == b.original_length and a.gain == b.gain
        assert all(np.array_equal(x, y) for x, y in zip(a.codes, b.codes, strict=True))


def test_a_second_run_skips_what_is_up_to_date_and_redoes_what_is_missing(tmp_path, tiny, corpus):
    out = tmp_path / "out"
    invoke("encode", corpus, out, "-m", tiny)
    kept = out / "speaker1" / "clip0.snac"
    before = kept.stat().st_mtime_ns
    (out / "speaker1" / "clip3.snac").unlink()
    (out / "speaker1" / "clip4.snac").write_bytes(b"half a file")  # damaged: redone
    result = invoke("encode", corpus, out, "-m", tiny)
    assert "2 done" in result.stderr and "6 up to date" in result.stderr and "1 failed" in result.stderr
    assert kept.stat().st_mtime_ns == before
    records = manifest(out / "manifest.jsonl")
    assert records["clip0.wav"]["status"] == "skipped" and records["clip0.wav"]["frames"]
    assert records["clip3.wav"]["status"] == records["clip4.wav"]["status"] == "ok"
    read_snac(out / "speaker1" / "clip4.snac")


def test_a_killed_run_finishes_on_the_second_go_without_redoing_anything(tmp_path, tiny):
    root, out = tmp_path / "in", tmp_path / "out"
    for i in range(8):  # long enough to be encoded one by one, so outputs appear one at a time
        write_clip(root / f"c{i}.wav", 5.5, seed=i)
    command = [sys.executable, "-m", "snac_cli", "encode", str(root), str(out), "-m", str(tiny), "-q"]
    child = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.snac"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    child.wait(timeout=60)
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.snac")}
    assert 2 <= len(done) < 8 and child.returncode == 130
    assert not list(out.glob(".*.part"))  # an interrupted output is never left half-written
    rerun = subprocess.run(command, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.snac") if p.name in done} == done
    assert len(list(out.glob("*.snac"))) == 8
    statuses = [r["status"] for r in manifest(out / "manifest.jsonl").values()]
    assert statuses.count("skipped") == len(done) and statuses.count("ok") == 8 - len(done)


def test_partial_files_that_a_killed_run_left_are_swept(tmp_path, tiny, corpus):
    out = tmp_path / "out"
    stale = [out / "speaker1" / ".clip0.snac.k3x_9a2q.part", out / ".manifest.jsonl.0a1b2c3d.part"]
    kept = [out / "speaker1" / ".other.snac.k3x_9a2q.part", out / "speaker1" / ".clip0.snac.notes", out / ".part"]
    for path in stale + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    invoke("encode", corpus, out, "-m", tiny)
    assert [p.exists() for p in stale + kept] == [False, False, True, True, True]
    assert partial_of(".clip0.snac.k3x_9a2q.part") == "clip0.snac" and partial_of(".x.part") is None


def test_files_from_stdin_mirror_relative_paths(tmp_path, tiny, corpus, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = "in/speaker1/clip1.wav\n\n# a comment\nin/speaker2/stereo.flac\n"
    result = invoke("encode", "--files-from", "-", "out", "-m", tiny, stdin=listing)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.snac")) == [
        "in/speaker1/clip1.snac",
        "in/speaker2/stereo.snac",
    ]


def test_a_folder_of_snac_files_decodes_to_a_folder(tmp_path, tiny, corpus):
    invoke("encode", corpus, tmp_path / "codes", "-m", tiny)
    result = invoke("decode", tmp_path / "codes", tmp_path / "audio", "--format", "flac")
    assert result.exit_code == 0, result.stderr
    stereo = sf.info(tmp_path / "audio" / "speaker2" / "stereo.flac")
    original = sf.info(corpus / "speaker2" / "stereo.flac")
    assert (stereo.samplerate, stereo.channels, stereo.frames) == (44100, 2, original.frames)
    assert len(list((tmp_path / "audio").rglob("*.flac"))) == 8
    again = invoke("decode", tmp_path / "codes", tmp_path / "audio", "--format", "flac")
    assert "8 up to date" in again.stderr


def test_worker_processes_write_the_same_files(tmp_path, tiny, corpus):
    invoke("encode", corpus, tmp_path / "one", "-m", tiny)
    result = invoke("encode", corpus, tmp_path / "two", "-m", tiny, "--jobs", "2")
    assert result.exit_code == InputError.exit_code
    for path in (tmp_path / "one").rglob("*.snac"):
        assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes()


def test_a_list_entry_never_escapes_the_output_folder():
    assert relative_target(Path("../../etc/passwd.wav"), None).as_posix() == "etc/passwd.wav"
    assert relative_target(Path("/data/a/b.wav"), None).as_posix() == "data/a/b.wav"
    assert read_list(["a.wav\n", "  \n", "# c\n", "b c.wav\r\n"]) == [Path("a.wav"), Path("b c.wav")]


def test_two_inputs_that_would_write_one_output_are_refused(tmp_path):
    with pytest.raises(InputError, match="would both write"):
        plan([Path("x/a.wav"), Path("x/a.flac")], tmp_path, ".snac")


def test_short_clips_are_grouped_by_length_and_long_ones_go_alone():
    jobs = [Job(Path(f"{i}.wav"), Path(f"{i}.snac")) for i in range(5)]
    units = units_of(jobs, [3.0, 30.0, 1.0, None, 2.0])
    assert [[j.source.name for j in unit] for unit in units] == [["1.wav"], ["3.wav"], ["2.wav", "4.wav", "0.wav"]]


def test_an_output_that_is_a_file_is_an_output_error(tmp_path, tiny, corpus):
    (tmp_path / "out").write_text("")
    result = invoke("encode", corpus, tmp_path / "out", "-m", tiny)
    assert result.exit_code == 5 and "not a directory" in result.stderr


def test_ray_is_refused_for_a_single_file(tmp_path, tiny, corpus):
    result = invoke("encode", corpus / "speaker1" / "clip0.wav", tmp_path / "a.snac", "--ray=local")
    assert result.exit_code == 2 and "--ray" in result.stderr

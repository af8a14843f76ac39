"""Folders and lists of files: a mirrored tree, batched short clips, resume, a manifest, failures recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from snac_cli.batch.plan import Job, Record, collisions, plan, read_list, relative_target
from snac_cli.batch.runner import run_pool
from snac_cli.batch.tasks import groups_of
from snac_cli.cli import app
from snac_cli.errors import InputError, OutputError
from snac_cli.files import partial_of
from snac_cli.format.container import read_snac
from tests.helpers.cli import INTERRUPTED, OUTPUT, USAGE, invoke, runner
from tests.helpers.signals import music_like, speech_like


def write_clip(path: Path, seconds: float, rate: int = 16000, channels: int = 1, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    make = [speech_like, music_like]
    samples = np.stack([make[c % 2](rate, n, seed=seed + c) for c in range(channels)], axis=1)
    sf.write(os.fsencode(path), samples, rate)  # bytes: soundfile encodes a str name strictly as UTF-8
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
    (out / "speaker1" / "clip4.snac").write_bytes(b"half a file")  # not a .snac file: not snac's to replace
    result = invoke("encode", corpus, out, "-m", tiny)
    assert "1 done" in result.stderr and "6 up to date" in result.stderr and "2 failed" in result.stderr
    assert kept.stat().st_mtime_ns == before
    records = manifest(out / "manifest.jsonl")
    assert records["clip0.wav"]["status"] == "skipped" and records["clip0.wav"]["frames"]
    assert records["clip3.wav"]["status"] == "ok"
    assert records["clip4.wav"]["status"] == "failed" and "use --force" in records["clip4.wav"]["error"]
    assert (out / "speaker1" / "clip4.snac").read_bytes() == b"half a file"
    assert invoke("encode", corpus, out, "-m", tiny, "--force").exit_code == InputError.exit_code  # broken.wav
    read_snac(out / "speaker1" / "clip4.snac")


def test_a_folder_run_never_overwrites_a_file_that_snac_did_not_write(tmp_path, tiny):
    folder = tmp_path / "same"
    originals = {name: write_clip(folder / name, 0.4, seed=i) for i, name in enumerate(["a.wav", "b.wav"])}
    contents = {name: path.read_bytes() for name, path in originals.items()}
    assert invoke("encode", folder, folder, "-m", tiny).exit_code == 0  # a.wav -> a.snac beside it
    result = invoke("decode", folder, folder)  # a.snac -> a.wav: the user's original is in the way
    assert result.exit_code == InputError.exit_code and "not written by snac (use --force" in result.stderr
    assert {name: path.read_bytes() for name, path in originals.items()} == contents
    decoded = tmp_path / "decoded"
    assert invoke("decode", folder, decoded).exit_code == 0
    (decoded / "b.wav").write_bytes(b"")  # an empty or damaged file is not trusted as up to date...
    (decoded / "a.wav").write_bytes((decoded / "a.wav").read_bytes()[:100])
    result = invoke("decode", folder, decoded)
    assert result.exit_code == InputError.exit_code and "2 failed" in result.stderr  # ...nor overwritten
    assert (decoded / "b.wav").read_bytes() == b"" and len((decoded / "a.wav").read_bytes()) == 100


def test_a_changed_input_or_setting_redoes_the_outputs(tmp_path, tiny):
    root, out = tmp_path / "in", tmp_path / "out"
    write_clip(root / "a.wav", 0.5, channels=2)
    write_clip(root / "b.wav", 0.5, seed=3)

    def statuses(*options):
        invoke("encode", root, out, "-m", tiny, *options)
        return [r["status"] for r in manifest(out / "manifest.jsonl").values()]

    assert statuses() == ["ok", "ok"]
    assert statuses() == ["skipped", "skipped"]
    assert statuses("--channels", "keep") == ["ok", "ok"]
    assert statuses("--channels", "keep", "--normalize", "peak") == ["ok", "ok"]
    assert statuses("--channels", "keep", "--normalize", "peak", "--meta", "k=v") == ["ok", "ok"]
    assert statuses("--channels", "keep", "--normalize", "peak", "--meta", "k=v") == ["skipped", "skipped"]
    write_clip(root / "b.wav", 0.5, seed=4)  # same name, new content
    assert statuses("--channels", "keep", "--normalize", "peak", "--meta", "k=v") == ["skipped", "ok"]
    assert read_snac(out / "a.snac").channels == 2 and read_snac(out / "a.snac").metadata["k"] == "v"
    decoded = tmp_path / "decoded"
    for options, expected in [((), "ok"), ((), "skipped"), (("--sample-rate", "8000"), "ok"), (("--seed", "3"), "ok")]:
        invoke("decode", out, decoded, *options)
        assert {r["status"] for r in manifest(decoded / "manifest.jsonl").values()} == {expected}, options


def test_the_manifest_is_checked_like_any_output_before_any_work(tmp_path, tiny, corpus):
    out, victim = tmp_path / "out", corpus / "speaker1" / "clip0.wav"
    before = victim.read_bytes()
    for manifest_path, message in [(victim, "would overwrite an input"), (corpus, "is a directory"),
                                   (tmp_path / "nowhere" / "m.jsonl", "no such directory")]:  # fmt: skip
        result = invoke("encode", corpus, out, "-m", tiny, "--manifest", manifest_path)
        assert result.exit_code == OutputError.exit_code and message in result.stderr
        assert not list(out.rglob("*.snac"))  # refused before any work
    assert victim.read_bytes() == before
    (tmp_path / "notes.txt").write_text("mine\n")
    result = invoke("encode", corpus, out, "-m", tiny, "--manifest", tmp_path / "notes.txt")
    assert result.exit_code == OutputError.exit_code and "not a snac manifest" in result.stderr
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "\n")  # past the JSON parser's depth: not a manifest
    result = invoke("encode", corpus, out, "-m", tiny, "--manifest", tmp_path / "deep.jsonl")
    assert result.exit_code == OutputError.exit_code and "not a snac manifest" in result.stderr


def test_a_live_runs_partial_files_are_never_swept(tmp_path, tiny, corpus):
    out = tmp_path / "out"
    live = out / "speaker1" / f".clip0.snac.{os.getpid()}-abc123.part"  # this process is alive
    dead = out / "speaker1" / f".clip1.snac.{2**22 + 7}-abc123.part"  # no such pid
    for path in (live, dead):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"being written")
    invoke("encode", corpus, out, "-m", tiny)
    assert live.exists() and not dead.exists()


def test_two_runs_into_one_output_folder_both_finish(tmp_path, tiny):
    root, out = tmp_path / "in", tmp_path / "out"
    for i in range(4):
        write_clip(root / f"c{i}.wav", 40.0, seed=i)  # long clips: one file at a time, partial files live a while
    command = [sys.executable, "-m", "snac_cli", "encode", str(root), str(out), "-m", str(tiny), "-q"]
    first = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob(".*.part")) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    runs = [first, subprocess.Popen(command, stderr=subprocess.PIPE)]  # its start sweeps while the first writes
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read() if run.stderr else ""
    assert sorted(p.name for p in out.glob("*.snac")) == ["c0.snac", "c1.snac", "c2.snac", "c3.snac"]
    assert not list(out.glob(".*.part"))


def test_files_that_are_not_regular_are_ignored_and_the_output_tree_is_never_input(tmp_path, tiny):
    root = tmp_path / "in"
    write_clip(root / "a.wav", 0.4)
    os.mkfifo(root / "fifo.wav")  # reading it would block the run forever
    assert invoke("encode", root, root / "codes", "-m", tiny).exit_code == 0
    records = manifest(root / "codes" / "manifest.jsonl")
    assert records["fifo.wav"]["status"] == "ignored" and "not a regular file" in records["fifo.wav"]["error"]
    assert invoke("decode", root / "codes", root / "codes" / "wav").exit_code == 0
    assert invoke("encode", root, root / "codes", "-m", tiny).exit_code == 0  # codes/wav/a.wav is not an input
    assert set(manifest(root / "codes" / "manifest.jsonl")) == {"a.wav", "fifo.wav"}


def test_any_failure_of_one_file_is_recorded_and_the_run_goes_on(tmp_path, tiny, monkeypatch):
    import snac_cli.codec.encoding

    root, out = tmp_path / "in", tmp_path / "out"
    for name in ["a.wav", "b.wav", "c.wav"]:
        write_clip(root / name, 0.4)
    write_clip(root / "long.wav", 6.0)
    reader = snac_cli.codec.encoding.AudioReader

    def failing(source, *args, **kwargs):
        if Path(source).name in ("b.wav", "long.wav"):
            raise RuntimeError("libsndfile lost its way")
        return reader(source, *args, **kwargs)

    monkeypatch.setattr(snac_cli.codec.encoding, "AudioReader", failing)  # batched short clips and streamed files
    result = invoke("encode", root, out, "-m", tiny)
    assert result.exit_code == InputError.exit_code and "Traceback" not in result.output
    records = manifest(out / "manifest.jsonl")
    assert [records[n]["status"] for n in ["a.wav", "b.wav", "c.wav", "long.wav"]] == ["ok", "failed", "ok", "failed"]
    assert records["b.wav"]["error"] == records["long.wav"]["error"] == "RuntimeError: libsndfile lost its way"
    assert f"snac: failed: {root / 'b.wav'}: RuntimeError: libsndfile lost its way" in result.stderr  # named


def die_on(group: list[Job]) -> list[Record]:
    """A group of jobs whose worker process dies outright (as when the kernel kills it for memory)."""
    if group[0].source.name == "die":
        os._exit(9)
    return [Record(str(job.source), str(job.target), "ok") for job in group]


def test_a_worker_process_that_dies_fails_its_files_not_the_run():
    groups = [[Job(Path(name), Path(name + ".out"))] for name in ["a", "die", "b"]]
    records = [record for done in run_pool(groups, die_on, jobs=2) for record in done]  # does not raise
    assert sorted(r.input for r in records) == ["a", "b", "die"]  # every file has its record...
    lost = [r for r in records if r.input == "die"]
    assert [r.status for r in lost] == ["failed"] and lost[0].error == "die: the worker exited (code 9)"
    assert {r.status for r in records if r.input != "die"} == {"ok"}  # ...and only the lost one failed


def children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`: their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            if entry.name.isdigit() and parent == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.parametrize("tracker", [False, True], ids=["worker", "worker-and-resource-tracker"])
def test_a_killed_worker_fails_only_its_file_and_a_new_worker_does_the_rest(tmp_path, tiny, tracker):
    root, out = tmp_path / "in", tmp_path / "out"
    for i in range(8):
        write_clip(root / f"c{i}.wav", 30.0, rate=8000, seed=i)  # past 5 s: each file is a job group alone
    run = subprocess.Popen([sys.executable, "-m", "snac_cli", "encode", root, out, "-m", tiny, "--jobs", "2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and run.poll() is None:
        workers = {p for p, line in children(run.pid).items() if "spawn_main" in line}
        busy = [(int(f.name.rpartition(".snac.")[2].partition("-")[0]), f) for f in out.glob(".*.part")]
        victim = next(((pid, f) for pid, f in busy if pid in workers), None)  # a child process, mid-file
        time.sleep(0.01)
    assert victim is not None, "no worker was seen at work"
    if tracker:  # multiprocessing's resource tracker, probed when the new worker starts
        for pid, line in children(run.pid).items():
            if "resource_tracker" in line:
                os.kill(pid, signal.SIGKILL)
    os.kill(victim[0], signal.SIGKILL)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == InputError.exit_code, stderr
    lost = str(partial_of(victim[1].name)).replace(".snac", ".wav")
    records = manifest(out / "manifest.jsonl")
    assert len(records) == 8 and records[lost]["error"].endswith("the worker was killed (signal 9)")
    assert {name: r["status"] for name, r in records.items() if name != lost} == {
        f"c{i}.wav": "ok" for i in range(8) if f"c{i}.wav" != lost
    }
    assert f"snac: failed: {root / lost}: the worker was killed (signal 9)" in stderr.decode()
    assert "Traceback" not in stderr.decode() and "resource_tracker" not in stderr.decode()


def test_names_that_are_not_utf8_work_in_folders_lists_and_single_files(tmp_path, tiny):
    root, name = tmp_path / "in", os.fsdecode(b"caf\xe9.wav")  # a latin-1 name
    write_clip(root / name, 0.4)
    write_clip(root / "plain.wav", 0.4)
    assert invoke("encode", root, tmp_path / "out", "-m", tiny).exit_code == 0
    assert (tmp_path / "out" / name).with_suffix(".snac").exists()
    listing = os.fsencode(root / name) + b"\n"
    result = runner.invoke(app, ["encode", "-T", "-", str(tmp_path / "listed"), "-m", str(tiny)], input=listing)
    assert result.exit_code == 0, result.output
    single = subprocess.run(
        [sys.executable, "-m", "snac_cli", "encode", root / name, tmp_path / name, "-m", tiny], capture_output=True
    )
    assert single.returncode == 0, single.stderr
    assert (tmp_path / name).exists()


@pytest.mark.parametrize("jobs", ["1", "2"])  # with workers, those it stops remove what they were writing
def test_a_killed_run_finishes_on_the_second_go_without_redoing_anything(tmp_path, tiny, jobs):
    root, out = tmp_path / "in", tmp_path / "out"
    for i in range(8):  # long enough to be encoded one by one, so outputs appear one at a time
        write_clip(root / f"c{i}.wav", 5.5, seed=i)
    command = [sys.executable, "-m", "snac_cli", "encode", str(root), str(out), "-m", str(tiny), "-q", "-j", jobs]
    child = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.snac"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    child.wait(timeout=60)
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.snac")}
    assert 2 <= len(done) < 8 and child.returncode == INTERRUPTED
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
    assert read_list([b"a.wav\n", b"  \n", b"# c\n", b"b c.wav\r\n"]) == [Path("a.wav"), Path("b c.wav")]


def test_inputs_that_would_write_one_output_are_found_with_their_inputs(tmp_path):
    jobs = plan([Path("x/a.wav"), Path("x/b.wav"), Path("x/a.flac"), Path("x/b.wav")], tmp_path, ".snac")
    assert collisions(jobs) == {tmp_path / "x/a.snac": [Path("x/a.wav"), Path("x/a.flac")],
                                tmp_path / "x/b.snac": [Path("x/b.wav"), Path("x/b.wav")]}  # fmt: skip


@pytest.mark.parametrize("listed", [False, True])
def test_inputs_that_would_write_one_output_fail_and_the_others_go_on(tmp_path, tiny, audio_file, listed,
                                                                      monkeypatch):  # fmt: skip
    """A folder holding a.wav and a.ogg (or a list naming a file twice): only one could be kept, so both are
    recorded as failed, in the manifest and the summary, the other files are done, and the run exits 3."""
    (tmp_path / "in").mkdir()
    for name in ("a.wav", "a.ogg", "b.wav"):
        audio_file(f"in/{name}", seconds=0.3)
    out = tmp_path / "out"
    if listed:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "list.txt").write_text("in/b.wav\nin/a.wav\nin/b.wav\n")
        result = invoke("encode", "--files-from", tmp_path / "list.txt", out, "-m", tiny)
        out = out / "in"
    else:
        result = invoke("encode", tmp_path / "in", out, "-m", tiny)
    assert result.exit_code == InputError.exit_code, result.output
    lines = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    clashing = "b" if listed else "a"
    failed = [r for r in lines if r["status"] == "failed"]
    assert len(failed) == 2 and all(Path(r["input"]).stem == clashing for r in failed)
    assert all("would both write" in r["error"] or "is given 2 times" in r["error"] for r in failed)
    done = [r for r in lines if r["status"] == "ok"]
    assert len(done) == 1 and (out / Path(done[0]["output"]).name).exists()
    assert not (out / f"{clashing}.snac").exists() and "1 done" in result.stderr and "2 failed" in result.stderr


def test_short_clips_are_grouped_by_length_and_long_ones_go_alone():
    jobs = [Job(Path(f"{i}.wav"), Path(f"{i}.snac")) for i in range(5)]
    units = groups_of(jobs, [3.0, 30.0, 1.0, None, 2.0])
    assert [[j.source.name for j in unit] for unit in units] == [["1.wav"], ["3.wav"], ["2.wav", "4.wav", "0.wav"]]


def test_an_output_that_is_a_file_is_an_output_error(tmp_path, tiny, corpus):
    (tmp_path / "out").write_text("")
    result = invoke("encode", corpus, tmp_path / "out", "-m", tiny)
    assert result.exit_code == OUTPUT and "not a directory" in result.stderr


def test_ray_is_refused_for_a_single_file(tmp_path, tiny, corpus):
    result = invoke("encode", corpus / "speaker1" / "clip0.wav", tmp_path / "a.snac", "--ray=local")
    assert result.exit_code == USAGE and "--ray" in result.stderr


def test_a_folder_runs_from_python_without_the_cli(tmp_path, tiny, corpus):
    """`run_batch` is the library's: the records it returns are the manifest's, failures among them."""
    from snac_cli.batch.runner import run_batch
    from snac_cli.batch.tasks import EncodeTask
    from snac_cli.settings import EncodeSettings, ModelSettings

    task = EncodeTask(EncodeSettings(normalize="none"), ModelSettings(str(tiny)))
    summaries: list[str] = []
    records = run_batch(task, input=str(corpus), output=str(tmp_path / "out"), on_summary=summaries.append)
    assert len(records) == 9 and [r.input for r in records if r.status == "failed"] == [
        str(corpus / "speaker2" / "broken.wav")
    ]
    assert manifest(tmp_path / "out" / "manifest.jsonl") == {
        Path(r.input).name: json.loads(r.to_json()) for r in records
    }
    assert len(summaries) == 1 and "8 done" in summaries[0] and "1 failed" in summaries[0]
    again = run_batch(task, input=str(corpus), output=str(tmp_path / "out"))
    assert sorted(r.status for r in again).count("skipped") == 8

"""Ray Data: SnacEncoder in `map_batches` and `snac encode --ray` give the local path's codes and files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from snac_cli.cli import app
from snac_cli.format.container import read_snac
from tests.helpers.cli import INPUT, runner
from tests.helpers.signals import speech_like

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


@pytest.fixture
def clips(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    for i, seconds in enumerate([0.3, 0.8, 1.1]):
        sf.write(root / "sub" / f"c{i}.wav", speech_like(16000, int(seconds * 16000), seed=i), 16000)
    sf.write(root / "long.wav", speech_like(16000, 16000 * 6, seed=7), 16000)
    (root / "broken.wav").write_bytes(b"not audio")
    return root


def test_snac_encoder_in_map_batches_gives_the_codes_of_single_encodes(local_ray, tiny, clips, tmp_path):
    from snac_cli.batch.ray_data import SnacEncoder

    paths = sorted(str(p) for p in clips.rglob("c*.wav"))
    rows = [{"path": p, "bytes": open(p, "rb").read()} for p in paths]
    dataset = ray.data.from_items(rows).map_batches(
        SnacEncoder, fn_constructor_kwargs={"model": str(tiny)}, batch_size=1, concurrency=1, num_cpus=2
    )  # the local encode's thread count: thread counts change float rounding, which can flip a near-tied code
    out = {row["path"]: row for row in dataset.take_all()}
    for path in paths:
        local = tmp_path / "local.snac"
        assert runner.invoke(app, ["encode", path, str(local), "-m", str(tiny), "-f"]).exit_code == 0
        expected = read_snac(local)
        assert out[path]["error"] == ""
        assert bytes(out[path]["snac"]) == local.read_bytes()  # one row per batch: computed as if alone
        for i, codes in enumerate(expected.codes):
            assert np.array_equal(np.asarray(out[path][f"codes_{i}"]), codes)


def test_encode_with_ray_writes_the_files_and_manifest_of_a_local_run(local_ray, tiny, clips, tmp_path):
    local = runner.invoke(app, ["encode", str(clips), str(tmp_path / "local"), "-m", str(tiny)])
    remote = runner.invoke(app, ["encode", str(clips), str(tmp_path / "ray"), "-m", str(tiny), "--ray=local"])
    assert local.exit_code == remote.exit_code == INPUT  # the broken clip, in both
    snacs = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.snac"))
    assert len(snacs) == 4
    for name in snacs:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()

    def records(folder):
        lines = (tmp_path / folder / "manifest.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "output"} for line in lines]

    assert records("ray") == records("local")


def test_snac_encoder_takes_batches_of_rows_and_keeps_their_columns(local_ray, tiny, clips):
    from snac_cli.batch.ray_data import SnacEncoder

    rows = [{"path": str(p), "speaker": p.stem} for p in sorted(clips.rglob("*.wav"))]
    dataset = ray.data.from_items(rows).map_batches(
        SnacEncoder, fn_constructor_kwargs={"model": str(tiny)}, batch_size=8, concurrency=1
    )
    out = {row["speaker"]: row for row in dataset.take_all()}
    assert "not a readable audio file" in out["broken"]["error"] and bytes(out["broken"]["snac"]) == b""
    for name in ("c0", "c1", "c2", "long"):
        snac = read_snac(bytes(out[name]["snac"]))
        assert out[name]["error"] == "" and out[name]["seconds"] == snac.original_length / 16000
        assert [np.asarray(out[name][f"codes_{i}"]).shape for i in range(3)] == [c.shape for c in snac.codes]


def test_a_ray_client_address_without_ray_client_is_one_usage_error(monkeypatch):
    import importlib.util

    from snac_cli.batch.ray_data import connect
    from snac_cli.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a))
    with pytest.raises(UsageError, match="needs Ray Client: pip install 'snac-cli\\[ray\\]'"):
        connect(object(), "ray://head:10001")


def test_workers_never_reserve_every_cpu_of_the_cluster():
    """Two workers of 2 threads on 2 CPUs reserved them all and left none for Ray Data's own tasks: the run
    hung for good (Ray only warned)."""
    from snac_cli.batch.ray_data import reserved_cpus

    class Cluster:
        def __init__(self, cpus: float):
            self.cpus = cpus

        def cluster_resources(self) -> dict[str, float]:
            return {"CPU": self.cpus}

    for cpus, threads, workers in [(2, 2, 1), (2, 2, 2), (1, 1, 1), (16, 4, 2), (64, 8, 8)]:
        reserved = reserved_cpus(Cluster(cpus), threads, workers)
        assert 0 < reserved <= threads and reserved * workers <= max(cpus - 1, 0.25 * workers), (cpus, threads)
    assert reserved_cpus(Cluster(64), 8, 2) == 8  # room to spare: a worker reserves its threads


def test_a_ray_run_with_as_many_workers_as_cores_finishes(tiny, clips, tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "-m", "snac_cli", "encode", clips, tmp_path / "out", "-m", tiny, "--ray", "--jobs", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 3, result.stderr[-2000:]  # broken.wav fails, the rest are done
    assert len(list((tmp_path / "out").rglob("*.snac"))) == 4

"""Tables on Ray Data: `snac encode DATA OUT.parquet --ray=ADDRESS` on a real cluster of two nodes (two raylets
started here, `ray.cluster_utils.Cluster`) gives the table a local run gives, resumes as a local run does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.helpers.cli import INPUT, USAGE, invoke
from tests.helpers.tables import RATES
from tests.helpers.tables import write_dataset as write_parquet

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    """A head node and a second node, one CPU each, as `ray start --head` and `ray start --address` make."""
    from ray.cluster_utils import Cluster

    ray.shutdown()  # a Ray another test started in this process
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def same_table(a, b) -> None:
    """Two output tables hold the same rows and columns, in the same parts."""
    assert pq.read_table(a).equals(pq.read_table(b))
    assert sorted(p.name for p in a.glob("part-*")) == sorted(p.name for p in b.glob("part-*"))


def test_a_table_on_two_nodes_is_the_table_of_a_local_run(tmp_path, model, cluster):
    data = write_parquet(tmp_path, rows=11)
    local, on_ray = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    options = ["-m", model, "--part-rows", "3", "--offsets", "position"]
    assert invoke("encode", data, local, *options).exit_code == INPUT  # row 4 is not audio
    result = invoke("encode", data, on_ray, *options, f"--ray={cluster.address}", "--jobs", "2")
    assert result.exit_code == INPUT, result.output
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    same_table(local, on_ray)
    errors = pq.read_table(on_ray).column("error").to_pylist()
    assert [i for i, e in enumerate(errors) if e] == [4] and errors[4].startswith("row 4 (bad.wav)")
    assert json.loads((on_ray / "_snac.json").read_text())["failed"] == 1


def test_a_manifest_on_ray_is_the_table_of_a_local_run(tmp_path, model, audio_file, cluster):
    paths = [audio_file(f"a{i}.wav", rate=RATES[i % 3], seconds=0.3 + 0.1 * i) for i in range(5)]
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps({"audio_filepath": p.name, "text": f"t{i}"}) for i, p in enumerate(paths)]
    manifest.write_text("\n".join(lines[:2] + ["{not json"] + lines[2:]) + "\n")
    local, on_ray = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    options = ["-m", model, "--part-rows", "2"]
    assert invoke("encode", manifest, local, *options).exit_code == INPUT
    assert invoke("encode", manifest, on_ray, *options, f"--ray={cluster.address}").exit_code == INPUT
    same_table(local, on_ray)
    assert "line 3 is not JSON" in pq.read_table(on_ray).column("error")[2].as_py()


def test_a_ray_run_resumes_after_its_last_whole_part(tmp_path, model, cluster):
    data = write_parquet(tmp_path, rows=8)
    out, whole = tmp_path / "out.parquet", tmp_path / "whole.parquet"
    options = ["-m", model, "--part-rows", "3", f"--ray={cluster.address}"]
    assert invoke("encode", data, whole, *options).exit_code == INPUT
    assert invoke("encode", data, out, *options).exit_code == INPUT
    (out / "_snac.json").unlink()  # as if killed while it wrote its last part
    (out / "part-00002.parquet").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}
    result = invoke("encode", data, out, *options)
    assert result.exit_code == INPUT and "6 already done" in result.output, result.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*") if p.name in kept} == kept
    same_table(whole, out)


def test_a_table_under_a_name_that_is_not_utf8_runs_on_ray(tmp_path, model, cluster):
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    data = write_parquet(folder, rows=3)
    local, on_ray = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    assert invoke("encode", data, local, "-m", model).exit_code == 0
    assert invoke("encode", data, on_ray, "-m", model, f"--ray={cluster.address}").exit_code == 0
    same_table(local, on_ray)


def test_a_table_begun_locally_is_finished_on_ray_and_back(tmp_path, model, cluster):
    data = write_parquet(tmp_path, rows=8)
    out, whole = tmp_path / "out.parquet", tmp_path / "whole.parquet"
    options = ["-m", model, "--part-rows", "3"]
    assert invoke("encode", data, whole, *options).exit_code == INPUT
    assert invoke("encode", data, out, *options).exit_code == INPUT
    (out / "_snac.json").unlink()
    (out / "part-00002.parquet").unlink()
    result = invoke("encode", data, out, *options, f"--ray={cluster.address}")
    assert result.exit_code == INPUT and "6 already done" in result.output, result.output
    same_table(whole, out)
    again = invoke("encode", data, out, *options)  # finished, by either: nothing to do
    assert again.exit_code == INPUT and "encoded 0 rows" in again.output, again.output


def test_a_ray_address_that_is_not_one_is_a_usage_error_and_writes_nothing(tmp_path, model, dataset):
    for address in ("bogus-address", ""):
        result = invoke("encode", dataset, tmp_path / "out.parquet", "-m", model, f"--ray={address}")
        assert result.exit_code == USAGE and len(result.output.strip().splitlines()) == 1, result.output
        assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("number, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_a_ray_run_as_it_stops_a_local_one(tmp_path, model, cluster, number, code):
    data = write_parquet(tmp_path, rows=12)
    whole, stopped = tmp_path / "whole.parquet", tmp_path / "stopped.parquet"
    options = ["-m", str(model), "--part-rows", "1", f"--ray={cluster.address}"]
    invoke("encode", data, whole, *options)
    process = subprocess.Popen([sys.executable, "-m", "snac_cli", "encode", str(data), str(stopped), *options],
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while not (stopped / "part-00001.parquet").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=120)
    if process.returncode != INPUT:  # stopped before its summary (after it, the run's own code stands)
        assert process.returncode == code and len(stderr.strip().splitlines()) == 1, stderr
    assert [p.name for p in stopped.iterdir() if p.name.startswith(".")] == []  # no half-written part
    assert invoke("encode", data, stopped, *options).exit_code == INPUT
    same_table(whole, stopped)

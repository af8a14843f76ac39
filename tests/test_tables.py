"""Tables in, a table out: `snac encode DATA OUT.parquet` over Parquet in the Hugging Face Audio layout, JSONL
manifests and CSV; the output's rows, columns, codes and tokens; bad tables and bad rows; resuming."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from snac_cli.format.container import read_snac
from tests.helpers.cli import INPUT, OK, OUTPUT, USAGE, invoke
from tests.helpers.tables import RATES


def encoded_alone(tmp_path, model, data: bytes, *extra) -> list[np.ndarray]:
    """The codes `snac encode` gives the same audio as a file."""
    source, target = tmp_path / "alone.audio", tmp_path / "alone.snac"
    source.write_bytes(data)
    assert invoke("encode", source, target, "-m", model, "--force", *extra).exit_code == OK
    return read_snac(target).codes


def test_a_parquet_table_keeps_its_rows_and_columns_and_adds_codes_and_tokens(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    result = invoke("encode", dataset, out, "-m", model, "--offsets", "position", "--base", "1000")
    assert result.exit_code == INPUT, result.output  # one row is not audio: exit 3 at the end
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [100 + i for i in range(6)]
    assert table.column_names[:3] == ["text", "speaker", "id"] and "audio" not in table.column_names
    errors = table.column("error").to_pylist()
    assert [e is None for e in errors] == [True, True, True, True, False, True]
    assert "row 4" in errors[4]
    source = pq.read_table(dataset).column("audio").to_pylist()
    for i in (0, 1, 2, 5):
        data = source[i]["bytes"] or (dataset.parent / source[i]["path"]).read_bytes()
        codes = encoded_alone(tmp_path, model, data)
        for scale, expected in enumerate(codes):
            assert np.array_equal(np.array(table.column(f"codes_{scale}")[i].as_py()), expected)
        snac_file = tmp_path / "alone.snac"
        assert invoke("export", snac_file, "--format", "npy", "--offsets", "position", "--base", "1000",
                      "--force").exit_code == OK  # fmt: skip
        assert np.array_equal(np.array(table.column("tokens")[i].as_py()), np.load(tmp_path / "alone.npy"))
        assert table.column("sample_rate")[i].as_py() == RATES[i % len(RATES)]
    assert (out / "_snac.json").exists()


def test_a_row_decodes_back_as_its_snac_file_would(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model)
    row = pq.read_table(dataset).column("audio")[1].as_py()["bytes"]
    encoded_alone(tmp_path, model, row)
    assert invoke("decode", tmp_path / "alone.snac", tmp_path / "a.wav").exit_code == OK
    assert invoke("decode", out, "--row", "1", tmp_path / "b.wav").exit_code == OK
    assert invoke("decode", out, "--row", "id=101", tmp_path / "c.wav").exit_code == OK
    a, b, c = (sf.read(tmp_path / f"{n}.wav")[0] for n in "abc")
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert invoke("decode", out, "--row", "4", tmp_path / "d.wav").exit_code == INPUT  # the row that failed
    assert invoke("decode", out, "--row", "99", tmp_path / "d.wav").exit_code == USAGE
    assert invoke("decode", out, tmp_path / "d.wav").exit_code == USAGE  # which row?
    assert not (tmp_path / "d.wav").exists()


def test_a_manifest_and_a_csv_read_their_paths_relative_to_themselves(tmp_path, model, audio_file):
    paths = [audio_file(f"a{i}.wav", rate=RATES[i], seconds=0.4 + 0.1 * i) for i in range(3)]
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps({"audio_filepath": p.name, "duration": 0.4 + 0.1 * i, "text": f"t{i}"})
             for i, p in enumerate(paths)]  # fmt: skip
    manifest.write_text("\n".join([lines[0], "{not json", lines[1], "", lines[2]]) + "\n")
    assert invoke("encode", manifest, tmp_path / "m.parquet", "-m", model).exit_code == INPUT
    table = pq.read_table(tmp_path / "m.parquet")
    assert table.column("text").to_pylist() == ["t0", None, "t1", "t2"]
    assert "line 2 is not JSON" in table.column("error")[1].as_py()
    csv = tmp_path / "list.csv"
    csv.write_text("path,text\n" + "".join(f"{p.name},t{i}\n" for i, p in enumerate(paths)))
    assert invoke("encode", csv, tmp_path / "c.parquet", "-m", model, "--audio-column", "path").exit_code == OK
    by_csv = pq.read_table(tmp_path / "c.parquet")
    assert by_csv.column("codes_0").to_pylist() == table.column("codes_0").take([0, 2, 3]).to_pylist()
    assert by_csv.column("codes_0")[0].as_py() == read_codes(tmp_path, model, paths[0])


def read_codes(tmp_path, model, path) -> list:
    assert invoke("encode", path, tmp_path / "one.snac", "-m", model, "--force").exit_code == OK
    return read_snac(tmp_path / "one.snac").codes[0].tolist()


def test_a_table_resumed_after_its_parts_is_the_table_of_one_run(tmp_path, model, dataset):
    whole, resumed = tmp_path / "whole.parquet", tmp_path / "resumed.parquet"
    invoke("encode", dataset, whole, "-m", model, "--part-rows", "2")
    assert sorted(p.name for p in whole.glob("part-*")) == [f"part-0000{i}.parquet" for i in range(3)]
    invoke("encode", dataset, resumed, "-m", model, "--part-rows", "2")
    (resumed / "part-00002.parquet").unlink()  # as if killed while writing the last part
    (resumed / "_snac.json").unlink()
    (resumed / ".part-00002.parquet.999999-x.part").write_bytes(b"half")  # a dead writer's partial file
    before = (resumed / "part-00000.parquet").stat().st_mtime_ns
    result = invoke("encode", dataset, resumed, "-m", model, "--part-rows", "2")
    assert result.exit_code == INPUT and "4 already done" in result.output
    assert (resumed / "part-00000.parquet").stat().st_mtime_ns == before  # kept, not redone
    assert pq.read_table(resumed).equals(pq.read_table(whole))
    assert [p.name for p in resumed.iterdir() if p.name.startswith(".")] == []
    again = invoke("encode", dataset, resumed, "-m", model, "--part-rows", "2")
    assert again.exit_code == INPUT and "encoded 0 rows" in again.output  # complete: nothing to do


def test_a_bad_table_is_one_line_and_writes_nothing(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes(dataset.read_bytes()[:-100])
    ints = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"audio": [1, 2]}), ints)
    cases = [
        ((dataset, out, "--audio-column", "speech"), INPUT, "no column 'speech'"),
        ((ints, out), INPUT, "holds int64, not audio"),
        ((truncated, out), INPUT, "not a readable Parquet file"),
        ((tmp_path / "none.parquet", out), INPUT, "no such file"),
        ((dataset, dataset), USAGE, "may not be the input"),
        ((dataset, out, "--part-rows", "0"), USAGE, ""),
        ((dataset, out, "--meta", "a=b"), USAGE, "--meta"),
    ]
    for args, code, words in cases:
        result = invoke("encode", *args, "-m", model)
        assert result.exit_code == code, (args, result.output)
        assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output
        assert not out.exists()


def test_an_output_that_is_not_a_table_is_never_replaced_without_force(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"mine")
    assert invoke("encode", dataset, out, "-m", model).exit_code == OUTPUT
    assert out.read_bytes() == b"mine"
    assert invoke("encode", dataset, out, "-m", model, "--force").exit_code == INPUT  # replaced; a row fails
    assert pq.read_table(out).num_rows == 6


def test_datasets_loads_the_output(tmp_path, model, dataset):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model)
    loaded = datasets.load_dataset("parquet", data_files=str(out / "*.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert loaded["id"] == [100 + i for i in range(6)]
    assert loaded[0]["codes_0"] == pq.read_table(out).column("codes_0")[0].as_py()


def test_worker_processes_give_the_table_of_one_process(tmp_path, model, dataset):
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    invoke("encode", dataset, one, "-m", model, "--part-rows", "4")
    result = invoke("encode", dataset, two, "-m", model, "--part-rows", "4", "--jobs", "2")
    assert result.exit_code == INPUT, result.output
    assert pq.read_table(two).equals(pq.read_table(one))


def test_table_options_are_refused_where_they_do_not_apply(tmp_path, model, wav):
    result = invoke("encode", wav, tmp_path / "x.snac", "-m", model, "--keep-audio")
    assert result.exit_code == USAGE and "--keep-audio" in result.output
    result = invoke("encode", tmp_path / "m.jsonl", tmp_path / "x.snac", "-m", model)
    assert result.exit_code == USAGE and "OUTPUT.parquet" in result.output


def test_an_empty_table_gives_an_empty_table_with_the_output_columns(tmp_path, model):
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"audio": pa.array([], pa.string()), "id": pa.array([], pa.int64())}), empty)
    assert invoke("encode", empty, tmp_path / "out.parquet", "-m", model).exit_code == OK
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 0 and table.column_names[:2] == ["id", "codes_0"] and "error" in table.column_names


def test_a_row_imports_as_the_snac_file_of_its_audio(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model)
    alone = encoded_alone(tmp_path, model, pq.read_table(dataset).column("audio")[3].as_py()["bytes"])
    assert invoke("import", out, tmp_path / "row.snac", "--row", "3").exit_code == OK
    row = read_snac(tmp_path / "row.snac")
    original = read_snac(tmp_path / "alone.snac")
    assert all(np.array_equal(a, b) for a, b in zip(row.codes, alone, strict=True))
    assert (row.original_length, row.original_sample_rate, row.gain) == (
        original.original_length,
        original.original_sample_rate,
        original.gain,
    )


def test_a_row_naming_a_fifo_fails_alone_instead_of_blocking_the_run(tmp_path, model, audio_file):
    import os

    os.mkfifo(tmp_path / "pipe.wav")
    good = audio_file("good.wav", seconds=0.4)
    csv = tmp_path / "list.csv"
    csv.write_text(f"path\npipe.wav\n{good.name}\n")
    result = invoke("encode", csv, tmp_path / "out.parquet", "-m", model, "--audio-column", "path")
    assert result.exit_code == INPUT, result.output
    errors = pq.read_table(tmp_path / "out.parquet").column("error").to_pylist()
    assert "not a regular file" in errors[0] and errors[1] is None


def test_a_second_run_on_the_same_table_is_refused_while_the_first_writes(tmp_path, model, dataset):
    from snac_cli.tables.parts import Parts

    out = tmp_path / "out.parquet"
    first = Parts(out, {"layout": 1}, force=False)
    first.prepare()  # holds the table's lock, as a run at work does
    try:
        result = invoke("encode", dataset, out, "-m", model)
        assert result.exit_code == OUTPUT and "another snac run is writing" in result.output
    finally:
        first.close()
    assert invoke("encode", dataset, out, "-m", model).exit_code == INPUT  # free again: it runs (a row fails)


def test_a_run_stopped_by_a_signal_leaves_whole_parts_and_resumes_to_the_same_table(tmp_path, model, dataset):
    import signal
    import subprocess
    import sys
    import time

    whole, stopped = tmp_path / "whole.parquet", tmp_path / "stopped.parquet"
    invoke("encode", dataset, whole, "-m", model, "--part-rows", "1")
    command = [sys.executable, "-m", "snac_cli", "encode", str(dataset), str(stopped), "-m", str(model),
               "--part-rows", "1"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (stopped / "part-00001.parquet").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if process.returncode != INPUT:  # it had not finished: stopped as Ctrl-C stops a run
        assert process.returncode == 130 and len(stderr.strip().splitlines()) == 1, stderr
        assert not (stopped / "_snac.json").exists()
    assert [p.name for p in stopped.iterdir() if p.name.startswith(".")] == []  # no half-written part
    assert invoke("encode", dataset, stopped, "-m", model, "--part-rows", "1").exit_code == INPUT
    assert pq.read_table(stopped).equals(pq.read_table(whole))


def test_forged_parts_and_rows_are_never_trusted(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model, "--part-rows", "2")
    whole = pq.read_table(out)
    part = out / "part-00000.parquet"
    table = pq.read_table(part)
    meta = json.loads(table.schema.metadata[b"snac"])
    pq.write_table(table.replace_schema_metadata({b"snac": json.dumps({**meta, "rows": 5})}), part)
    (out / "_snac.json").unlink()
    assert invoke("encode", dataset, out, "-m", model, "--part-rows", "2").exit_code == INPUT
    assert pq.read_table(out).equals(whole)  # the part that lied about its rows was redone
    forged = whole.set_column(whole.column_names.index("seconds"), "seconds", pa.array([float("inf")] * 6))
    forged = forged.set_column(forged.column_names.index("error"), "error", pa.array([None] * 6, pa.string()))
    for name in ("part-00001.parquet", "part-00002.parquet"):
        (out / name).unlink()
    pq.write_table(forged, out / "part-00000.parquet")
    for args in (("--row", "0"), ("--row", "text=line 0"), ("--row", "codes_0=1")):
        result = invoke("decode", out, *args, tmp_path / "x.wav", "-m", model)
        assert result.exit_code in (INPUT, USAGE) and len(result.output.strip().splitlines()) == 1, result.output
        assert not (tmp_path / "x.wav").exists()


def test_a_row_read_back_refuses_the_options_of_tokens_and_honours_raw(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model)
    result = invoke("import", out, tmp_path / "r.snac", "--row", "0", "--offsets", "position")
    assert result.exit_code == USAGE and "--offsets" in result.output
    assert invoke("decode", out, "--row", "0", "x.wav", "--jobs", "2").exit_code == USAGE
    raw = invoke("decode", out, "--row", "0", "-", "--format", "raw")
    assert raw.exit_code == OK and len(raw.stdout_bytes) > 0 and not raw.stdout_bytes.startswith(b"RIFF")


def test_tables_and_rows_under_names_that_are_not_utf8(tmp_path, model, audio_file):
    import os

    good = audio_file("good.wav", seconds=0.4)
    folder = os.fsencode(tmp_path) + b"/\xff"
    os.mkdir(folder)
    csv = folder + b"/list\xfe.csv"
    with open(csv, "wb") as stream:
        stream.write(f"path\n{good}\n".encode())
    out = folder + b"/out\xfd.parquet"
    result = invoke("encode", os.fsdecode(csv), os.fsdecode(out), "-m", model, "--audio-column", "path")
    assert result.exit_code == OK, result.output
    assert invoke("encode", os.fsdecode(csv), os.fsdecode(out), "-m", model, "--audio-column", "path").exit_code == OK
    assert invoke("decode", os.fsdecode(out), "--row", "0", tmp_path / "x.wav").exit_code == OK
    assert invoke("decode", os.fsdecode(out), "--row", "-1", tmp_path / "y.wav").exit_code == USAGE


def test_a_manifest_keeps_the_columns_of_every_line_not_only_the_first(tmp_path, model, audio_file):
    good = audio_file("good.wav", seconds=0.4)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('[1, 2]\n{"audio_filepath": "good.wav", "speaker": "a"}\n{"audio_filepath": "good.wav"}\n')
    assert good.exists()
    assert invoke("encode", manifest, tmp_path / "out.parquet", "-m", model).exit_code == INPUT
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("speaker").to_pylist() == [None, "a", None]
    assert "not a JSON object" in table.column("error")[0].as_py() and table.column("error")[1].as_py() is None


def test_a_run_killed_after_its_last_part_but_before_its_marker_adds_no_rows(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model, "--part-rows", "4")  # parts of 4 and 2 rows
    whole = pq.read_table(out)
    (out / "_snac.json").unlink()
    assert invoke("encode", dataset, out, "-m", model, "--part-rows", "4").exit_code == INPUT
    assert pq.read_table(out).equals(whole) and (out / "_snac.json").exists()


def test_odd_audio_columns_fail_alone_or_are_refused_whole(tmp_path, model, audio_file):
    good = str(audio_file("good.wav", seconds=0.4))
    paths = tmp_path / "paths.parquet"
    pq.write_table(pa.table({"audio": ["a\x00b.wav", good], "__snac_line_error__": ["mine", "mine too"]}), paths)
    assert invoke("encode", paths, tmp_path / "p.parquet", "-m", model).exit_code == INPUT
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.column("error")[0].as_py() is not None and table.column("error")[1].as_py() is None
    assert table.column("__snac_line_error__").to_pylist() == ["mine", "mine too"]  # a column like any other
    text = tmp_path / "text.parquet"
    kind = pa.struct([("bytes", pa.string()), ("path", pa.string())])
    pq.write_table(pa.table({"audio": pa.array([{"bytes": "x", "path": "y"}], kind)}), text)
    result = invoke("encode", text, tmp_path / "t.parquet", "-m", model)
    assert result.exit_code == INPUT and "not audio" in result.output


def test_a_manifest_key_named_like_the_line_errors_is_a_column_like_any_other(tmp_path, model, audio_file):
    audio_file("good.wav", seconds=0.4)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio_filepath": "good.wav", "__snac_line_error__": 5}\nnot json\n')
    assert invoke("encode", manifest, tmp_path / "out.parquet", "-m", model).exit_code == INPUT
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("__snac_line_error__").to_pylist() == [5, None]
    assert table.column("error")[0].as_py() is None and "not JSON" in table.column("error")[1].as_py()


def test_a_forged_row_is_refused_by_import_as_by_decode(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model, "--part-rows", "6")
    part = out / "part-00000.parquet"
    table = pq.read_table(part)
    for name, value in (("seconds", 0.0), ("codes_0", [[["1"]]] * 6)):
        column = pa.array([value] * 6) if name == "seconds" else pa.array(value)
        pq.write_table(table.set_column(table.column_names.index(name), name, column), part)
        for command in ("decode", "import"):
            target = tmp_path / ("x.wav" if command == "decode" else "x.snac")
            result = invoke(command, out, "--row", "0", target)
            assert result.exit_code == INPUT and len(result.output.strip().splitlines()) == 1, result.output
            assert not target.exists()
    assert invoke("decode", out, "--row", "1_0", tmp_path / "x.wav").exit_code == USAGE


def test_a_table_resumed_with_other_threads_is_redone(tmp_path, model, dataset):
    out = tmp_path / "out.parquet"
    invoke("encode", dataset, out, "-m", model, "--part-rows", "2")
    (out / "_snac.json").unlink()
    result = invoke("encode", dataset, out, "-m", model, "--part-rows", "2", "--jobs", "2")
    assert result.exit_code == INPUT and "already done" not in result.output  # threads change float rounding

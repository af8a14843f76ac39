"""ONNX models: `snac onnx OUT_DIR -m MODEL` writes the encoder, the decoder and the decoder's streaming step,
checked before they appear; onnxruntime gives PyTorch's codes and, with the noise drawn by numpy as PyTorch
draws it, `snac decode`'s audio; the step fed a frame at a time gives the whole decode; a folder that is not
whole or not ours is one line, exit 4."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from snac_cli.errors import ModelError
from snac_cli.format.container import read_snac
from tests.helpers.cli import MODEL, OK, OUTPUT, USAGE, invoke

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def onnx_folder(checkpoint, tmp_path_factory):
    """`onnx_folder(name)`: the checkpoint `name` (conftest's) written by `snac onnx`, once per module (an
    export takes 30 to 50 s)."""
    made = {}

    def get(name: str):
        if name not in made:
            made[name] = tmp_path_factory.mktemp("onnx") / f"{name}-onnx"
            result = invoke("onnx", made[name], "-m", checkpoint(name))
            assert result.exit_code == OK, result.output
        return made[name]

    return get


@pytest.fixture(scope="module")
def exported(onnx_folder):
    """The tiny model (attention, strides 3, 2, 1) written by `snac onnx`."""
    return onnx_folder("tiny")


@pytest.fixture(scope="module")
def exported_24khz(onnx_folder):
    """The 24 kHz shape (strides that interleave into tokens) written by `snac onnx`."""
    return onnx_folder("24khz")


def test_the_noise_numpy_draws_is_the_noise_pytorch_draws():
    from snac_cli.model.layers import positional_noise as drawn_by_torch
    from snac_cli.runtime.noise import positional_noise

    cases = [(0, 16, [(0, 0, 0)]), (2, 9000, [(7, 1, 4090), (1 << 40, 3, 0)]), (1, 1, [(5, 0, 12345)])]
    for layer, length, rows in cases:  # blocks crossed, seeds past 32 bits, one position
        expected = drawn_by_torch(layer, length, rows).numpy()
        assert np.abs(positional_noise(layer, length, rows) - expected).max() < 1e-5  # float32 log/cos/sin
    assert positional_noise(0, 0, [(0, 0, 0)]).shape == (1, 0)


def test_the_folder_holds_both_graphs_and_documents_them(exported):
    config = json.loads((exported / "config.json").read_text())
    assert sorted(p.name for p in exported.iterdir()) == ["config.json", "decoder.onnx", "decoder_step.onnx",
                                                          "encoder.onnx"]  # fmt: skip
    assert set(config["graphs"]["decoder"]["inputs"]) == {"codes_0", "codes_1", "codes_2", "noise_0", "noise_1",
                                                          "noise_2"}  # fmt: skip
    assert config["model"]["config"]["sampling_rate"] == config["facts"]["sampling_rate"] == 16000
    step = config["graphs"]["step"]
    assert list(step["inputs"]) == ["codes_0", "codes_1", "codes_2", "position", "end", "noise_0", "noise_1",
                                    "noise_2", "state"]  # fmt: skip
    assert list(step["outputs"]) == ["audio", "state_out"] and step["delay"] > 0
    assert step["inputs"]["state"]["shape"] == ["batch", sum(s["channels"] * s["steps"] for s in step["state"])]
    assert not list(exported.parent.glob(".*"))  # nothing of the staging left


def same_as_snac(folder, model, source, tmp_path) -> None:
    """onnxruntime gives the codes `snac encode` writes for `source` (at the model's rate), and within 1 LSB
    of 16-bit PCM the audio `snac decode` makes of them (seed 0)."""
    from snac_cli.runtime.onnx_model import OnnxModel

    runtime = OnnxModel(folder)
    assert invoke("encode", source, tmp_path / "a.snac", "-m", model, "--normalize", "none", "--force").exit_code == OK
    snac = read_snac(tmp_path / "a.snac")
    audio, _ = sf.read(source, dtype="float32")
    codes = runtime.encode(audio[None, None])
    assert all(np.array_equal(a, b) for a, b in zip(codes, snac.codes, strict=True))
    out = tmp_path / "a.wav"
    assert invoke("decode", tmp_path / "a.snac", out, "--force").exit_code == OK
    expected, _ = sf.read(out, dtype="int16")
    whole = runtime.decode(codes, seed=0)[0, 0, : len(expected)]
    assert lsb(whole, expected) <= 1, "more than 1 LSB of 16-bit PCM from snac decode"
    stepped = frame_by_frame(runtime, codes)[0, : len(expected)]
    assert lsb(stepped, pcm(whole)) <= 1, "the streaming step, a frame at a time, is not the whole decode"


def pcm(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio * 32767), -32768, 32767)  # as the writer quantizes


def lsb(audio: np.ndarray, expected_pcm: np.ndarray) -> float:
    """How far audio is from 16-bit PCM, in its steps."""
    return float(np.abs(pcm(audio) - expected_pcm).max())


def frame_by_frame(runtime, codes: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """The streaming step's audio for codes pushed one frame at a time."""
    from snac_cli.runtime.step_decoder import StepDecoder

    decoder = StepDecoder(runtime, seed=seed, batch=codes[0].shape[0])
    per_frame = [math.lcm(*runtime.vq_strides) // s for s in runtime.vq_strides]  # codes of a frame, per scale
    pieces = [decoder.push([c[:, i * n : (i + 1) * n] for c, n in zip(codes, per_frame, strict=True)])
              for i in range(codes[0].shape[1] // per_frame[0])]  # fmt: skip
    return np.concatenate([*pieces, decoder.finish()], axis=1)


def test_onnxruntime_gives_the_codes_and_audio_of_snac_encode_and_decode(exported, tiny, audio_file, tmp_path):
    for seconds in (0.05, 1.3):
        same_as_snac(exported, tiny, audio_file(f"in{seconds}.wav", rate=16000, seconds=seconds), tmp_path)


@pytest.mark.parametrize("name, rate", [("24khz", 24000), ("32khz", 32000)])
def test_the_official_shapes_export_and_agree(onnx_folder, checkpoint, name, rate, audio_file, tmp_path):
    same_as_snac(onnx_folder(name), checkpoint(name), audio_file("in.wav", rate=rate, seconds=1.5), tmp_path)


def test_an_existing_output_is_kept_unless_forced(exported, tiny, tmp_path, monkeypatch):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine").write_text("mine")
    result = invoke("onnx", taken, "-m", tiny)
    assert result.exit_code == OUTPUT and len(result.output.strip().splitlines()) == 1
    assert (taken / "mine").read_text() == "mine"
    forced = invoke("onnx", taken, "-m", tiny, "--force")  # a folder of yours is never removed
    assert forced.exit_code == OUTPUT and (taken / "mine").read_text() == "mine", forced.output
    monkeypatch.chdir(taken)  # were the rule to break, the folder at risk is the test's own
    for here in (".", "", ".."):
        assert invoke("onnx", here, "-m", tiny, "--force").exit_code == USAGE
    assert (taken / "mine").read_text() == "mine"
    assert invoke("onnx", tmp_path / "none", "-m", tmp_path / "no-model").exit_code == MODEL
    assert not (tmp_path / "none").exists()
    again = tmp_path / "again"
    shutil.copytree(exported, again)
    import snac_cli.export.onnx_models as onnx_models  # the export itself is the other tests': copied here

    for part in ("encoder", "decoder", "step"):
        monkeypatch.setattr(onnx_models, f"export_{part}", lambda *args: copy_graph(exported, args[-1]))
    monkeypatch.setattr(onnx_models, "check", lambda *args: None)
    (again / "decoder.onnx").unlink()
    assert invoke("onnx", again, "-m", tiny, "--force").exit_code == OK  # one `snac onnx` wrote: replaced
    assert (again / "decoder.onnx").is_file()


def copy_graph(folder, path) -> None:
    shutil.copy(folder / path.name, path)


def edit_step(folder, **changes) -> None:
    """config.json with the streaming step's entries changed."""
    config = json.loads((folder / "config.json").read_text())
    config["graphs"]["step"].update(changes)
    if "state" in changes:  # its documented input too, as a forger would
        config["graphs"]["step"]["inputs"]["state"]["shape"] = ["batch", 6]
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda f: (f / "config.json").unlink(), "no config.json"),
        (lambda f: (f / "config.json").write_text("{not json"), "not a readable config"),
        (lambda f: (f / "config.json").write_text('{"format": "snac-onnx", "version": 9}'), "not a config of ONNX"),
        (lambda f: (f / "decoder.onnx").unlink(), "missing"),
        (lambda f: (f / "encoder.onnx").write_bytes((f / "encoder.onnx").read_bytes()[:5000]), "not a readable ONNX"),
        (lambda f: shutil.copy(f / "decoder.onnx", f / "encoder.onnx"), "are not those of config.json"),
        (lambda f: (f / "decoder_step.onnx").unlink(), "missing"),
        (lambda f: edit_step(f, state=[{"channels": 3, "steps": 2}]), "are not those of config.json"),
        (lambda f: edit_step(f, delay=-1), "not whole numbers"),
        (lambda f: edit_step(f, flush_steps=0), "do not cover its delay"),
    ],
)
def test_a_damaged_folder_is_one_model_error(exported, tmp_path, damage, words):
    from snac_cli.runtime.onnx_model import OnnxModel

    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    damage(folder)
    with pytest.raises(ModelError) as error:
        runtime = OnnxModel(folder)  # each graph is opened when first used
        for graph in ("encoder", "decoder", "step"):
            runtime.graph(graph)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_a_broken_graph_fails_the_command_before_any_output(exported, good_snac, wav, tmp_path):
    """One line, exit 4, nothing on stdout and no file: the graph a command needs is opened before it writes."""
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    for graph in ("encoder.onnx", "decoder_step.onnx"):
        (folder / graph).write_bytes((exported / graph).read_bytes()[:4000])
    out = tmp_path / "out"
    out.mkdir()
    for command in (["encode", wav, "-"], ["encode", wav, out / "a.snac"], ["decode", good_snac, "-"],
                    ["decode", good_snac, out / "a.wav"], ["roundtrip", wav, "-o", out / "b.wav"]):  # fmt: skip
        done = without_torch(*command, "-m", folder)
        assert done.returncode == MODEL and done.stdout == "" and len(done.stderr.splitlines()) == 1, done
    assert list(out.iterdir()) == []


def test_audio_in_windows_and_codes_in_any_pieces_give_the_whole(exported, tmp_path):
    """Small encoder windows (config.json), audio arriving in odd blocks: the codes of the whole at once; the
    streaming step, codes pushed in odd pieces, two channels, another seed: the audio of the whole at once."""
    from snac_cli.runtime.onnx_model import OnnxModel
    from snac_cli.runtime.step_decoder import StepDecoder
    from tests.helpers.signals import speech_like

    folder = tmp_path / "small-windows"
    shutil.copytree(exported, folder)
    config = json.loads((folder / "config.json").read_text())
    config["facts"]["windows"].update(encode_size=2 * config["facts"]["pad_unit"])
    (folder / "config.json").write_text(json.dumps(config))
    runtime, whole = OnnxModel(folder), OnnxModel(exported)
    audio = np.stack([speech_like(16000, 16000 * 3 + 17, seed=1), speech_like(16000, 16000 * 3 + 17, seed=2)])
    blocks = np.split(audio.astype(np.float32), [1, 5000, 5001, 20000], axis=1)
    parts = list(zip(*runtime.encode_stream(blocks), strict=True))
    assert len(parts[0]) > 10  # many windows
    codes = [np.concatenate(p, axis=1) for p in parts]
    expected = whole.encode(audio.astype(np.float32)[:, None, :])
    assert all(np.array_equal(a, b) for a, b in zip(codes, expected, strict=True))
    decoder = StepDecoder(runtime, seed=3, batch=2, max_frames=5)
    frames = codes[0].shape[1] // 2  # the tiny model's frame: 2 coarsest codes
    cuts = [0, 1, 1, 9, 10, 40, frames]  # frames: one, none, several, more than a step
    pushed = [decoder.push([c[:, a * c.shape[1] // frames : b * c.shape[1] // frames] for c in codes])
              for a, b in itertools.pairwise(cuts)]  # fmt: skip
    decoded = np.concatenate([*pushed, decoder.finish()], axis=1)
    assert np.abs(decoded - whole.decode(codes, seed=3)[:, 0]).max() < 1e-5
    assert np.abs(frame_by_frame(runtime, codes, seed=3) - decoded).max() < 1e-5
    decoder.reset()  # a new stream, the same seed
    again = np.concatenate([decoder.push(codes), decoder.finish()], axis=1)
    assert np.abs(again - decoded).max() < 1e-5


def test_no_audio_gives_no_codes_and_codes_it_cannot_decode_are_refused(exported):
    from snac_cli.runtime.onnx_model import OnnxModel

    runtime = OnnxModel(exported)
    empty = runtime.encode(np.zeros((2, 1, 0), np.float32))
    assert [c.shape for c in empty] == [(2, 0)] * 3
    assert runtime.decode(empty).shape == (2, 1, 0) and [b.shape for b in runtime.decode_stream([empty])] == [(2, 0)]
    assert [c.shape[1] for c in runtime.encode(np.zeros((1, 1, 1), np.float32))] == [4, 6, 12]  # one padding unit
    codes = runtime.encode(np.zeros((1, 1, 288), np.float32))

    def with_code(value: int) -> list[np.ndarray]:
        changed = [c.copy() for c in codes]
        changed[1][0, 0] = value
        return changed

    for bad in (with_code(-1), with_code(256), codes[:2], [c[:, :-1] for c in codes],
                [codes[0]] + [c[:, :2] for c in codes[1:]]):  # fmt: skip
        with pytest.raises(ValueError):
            runtime.decode(bad)
        with pytest.raises(ValueError):
            runtime.stream_decoder().push(bad)
    with pytest.raises(ValueError):
        runtime.encode(np.zeros((1, 288), np.float32))


def without_torch(*args) -> subprocess.CompletedProcess:
    """`snac ARGS` in a process where torch cannot be imported (as in an install of snac-cli[onnx] alone)."""
    code = ("import sys; sys.modules['torch'] = None; from snac_cli.cli import main; "
            f"sys.argv = ['snac', *{[str(a) for a in args]!r}]; main()")  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_commands_run_onnx_models_without_torch(exported_24khz, checkpoint, audio_file, tmp_path):
    """encode, decode, decode --tokens, import, roundtrip and folder runs take --model ONNX_DIR with no torch:
    the codes of the PyTorch model, its audio within 1 LSB; a PyTorch model there says which extra it needs."""
    model = checkpoint("24khz")
    source = audio_file("in.wav", rate=22050, channels=2, seconds=0.9)
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(source, clips / "in.wav")
    steps = [
        ("encode", source, tmp_path / "onnx.snac", "-m", exported_24khz, "--channels", "keep"),
        ("decode", tmp_path / "onnx.snac", tmp_path / "onnx.wav"),  # the file names the ONNX folder: no -m
        ("export", tmp_path / "onnx.snac", "--format", "npy"),  # onnx.npy: tokens, one row per channel
        ("decode", "--tokens", tmp_path / "onnx.npy", tmp_path / "tokens.wav", "-m", exported_24khz),
        ("import", tmp_path / "onnx.npy", tmp_path / "imported.snac", "-m", exported_24khz),  # its config alone
        ("cut", tmp_path / "imported.snac", "-o", tmp_path / "cut.snac", "--start", "0.1"),
        ("roundtrip", source, "-o", tmp_path / "round.wav", "-m", exported_24khz, "--json"),
        ("encode", clips, tmp_path / "folder", "-m", exported_24khz, "-q"),
    ]
    for step in steps:
        done = without_torch(*step)
        assert done.returncode == OK and not done.stderr.strip(), (step, done.stderr)
    assert invoke("encode", source, tmp_path / "torch.snac", "-m", model, "--channels", "keep").exit_code == OK
    onnx, torch_made = read_snac(tmp_path / "onnx.snac"), read_snac(tmp_path / "torch.snac")
    assert all(np.array_equal(a, b) for a, b in zip(onnx.codes, torch_made.codes, strict=True))
    assert invoke("decode", tmp_path / "onnx.snac", tmp_path / "torch.wav", "-m", model).exit_code == OK
    expected, _ = sf.read(tmp_path / "torch.wav", dtype="int16")
    got, _ = sf.read(tmp_path / "onnx.wav", dtype="int16")
    assert got.shape == expected.shape and np.abs(got.astype(int) - expected).max() <= 1
    assert (tmp_path / "folder" / "in.snac").is_file() and (tmp_path / "tokens.wav").is_file()
    needs = without_torch("encode", source, tmp_path / "t.snac", "-m", model)
    assert needs.returncode == USAGE and "snac-cli[torch]" in needs.stderr and len(needs.stderr.splitlines()) == 1
    assert not (tmp_path / "t.snac").exists()


def test_onnx_models_refuse_what_they_do_not_offer_in_one_line(exported, audio_file, tmp_path):
    source = audio_file("in.wav", seconds=0.3)
    for extra in (["--device", "cuda"], ["--precision", "bf16"]):
        result = invoke("encode", source, tmp_path / "a.snac", "-m", exported, *extra)
        assert result.exit_code == USAGE and "ONNX models run on the CPU" in result.output, result.output
    assert invoke("encode", source, tmp_path / "a.snac", "-m", exported).exit_code == OK
    early = invoke("decode", tmp_path / "a.snac", "-", "--lookahead", "0", "-m", exported)
    assert early.exit_code == USAGE and "exact lookahead" in early.output


def test_snac_serve_runs_onnx_models(exported_24khz, audio_file, tmp_path):
    """`snac serve --model ONNX_DIR`: encode and decode give the CLI's files, a token stream its audio (to 1
    LSB: pushes of other sizes round otherwise)."""
    from websockets.sync.client import connect

    from snac_cli.settings import ServeSettings
    from tests.helpers.cli import snac
    from tests.helpers.serving import TOKEN, request, server

    wav = audio_file("in.wav", rate=24000, seconds=0.7)
    assert invoke("encode", wav, tmp_path / "cli.snac", "-m", exported_24khz).exit_code == OK
    assert invoke("export", tmp_path / "cli.snac", "--format", "npy").exit_code == OK
    tokens = [int(t) for t in np.load(tmp_path / "cli.npy")[0]]
    whole = snac("decode", "--tokens", tmp_path / "cli.npy", "-", "--format", "raw", "-m", exported_24khz).stdout
    with server(ServeSettings(models=(str(exported_24khz),), device="cpu", token=TOKEN)) as port:
        status, _, made = request(port, "POST", "/v1/encode?normalize=loudness", wav.read_bytes())
        assert status == 200 and made == (tmp_path / "cli.snac").read_bytes()
        status, _, audio = request(port, "POST", "/v1/decode?format=wav", made)
        assert status == 200 and audio == snac("decode", tmp_path / "cli.snac", "-").stdout
        pcm = b""
        with connect(f"ws://127.0.0.1:{port}/v1/decode/stream?token={TOKEN}") as ws:
            for start in range(0, len(tokens), 7):
                ws.send(json.dumps({"tokens": tokens[start : start + 7]}))
            ws.send(json.dumps({"end": True}))
            while isinstance(message := ws.recv(timeout=60), bytes):
                pcm += message
    ours, theirs = np.frombuffer(pcm, "<i2").astype(int), np.frombuffer(whole, "<i2").astype(int)
    assert json.loads(message)["done"] and ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1

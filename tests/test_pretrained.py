"""Loading checkpoints: local folders, the Hub cache, both weight-norm layouts, and clear errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from snac_cli import SNAC, CheckpointError, ModelNotFoundError
from tests.helpers.checkpoints import CONFIGS, make_checkpoint
from tests.helpers.signals import speech_like


def encode_speech(model: SNAC) -> list[torch.Tensor]:
    return model.encode(torch.from_numpy(speech_like(model.sampling_rate, 3000))[None, None])


@pytest.mark.parametrize("layout", ["legacy", "safetensors"])
def test_every_layout_loads_to_the_same_model(tmp_path, checkpoint, layout):
    # Both made here with one seed: the session's checkpoint("tiny") takes its seed from the order of requests.
    official = SNAC.from_pretrained(make_checkpoint(tmp_path / "official", CONFIGS["tiny"], seed=0))
    other = SNAC.from_pretrained(make_checkpoint(tmp_path / layout, CONFIGS["tiny"], seed=0, layout=layout))
    assert all(torch.equal(a, b) for a, b in zip(encode_speech(official), encode_speech(other), strict=True))


def test_a_file_in_torchs_old_unzipped_format_loads_too(tmp_path):
    """Checkpoints are memory-mapped where torch can (its zip format); an older file is read whole instead."""
    official = make_checkpoint(tmp_path / "official", CONFIGS["tiny"], seed=0)
    old = tmp_path / "old"
    shutil.copytree(official, old)
    weights = torch.load(official / "pytorch_model.bin", weights_only=True)
    torch.save(weights, old / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError):  # the case this test is about: torch cannot map this file
        torch.load(old / "pytorch_model.bin", weights_only=True, mmap=True)
    a, b = SNAC.from_pretrained(official), SNAC.from_pretrained(old)
    assert all(torch.equal(x, y) for x, y in zip(encode_speech(a), encode_speech(b), strict=True))


def test_a_model_in_the_hub_cache_loads_offline_by_short_name(tmp_path, checkpoint):
    snapshot = tmp_path / "models--hubertsiuzdak--snac_24khz" / "snapshots" / ("0" * 40)
    shutil.copytree(checkpoint("tiny"), snapshot)
    (tmp_path / "models--hubertsiuzdak--snac_24khz" / "refs").mkdir()
    (tmp_path / "models--hubertsiuzdak--snac_24khz" / "refs" / "main").write_text("0" * 40)
    model = SNAC.from_pretrained("24khz", cache_dir=tmp_path)
    assert model.sampling_rate == CONFIGS["tiny"]["sampling_rate"]


def test_a_model_missing_offline_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelNotFoundError, match="hf download hubertsiuzdak/snac_32khz"):
        SNAC.from_pretrained("32khz", cache_dir=tmp_path)


def test_an_unreachable_hub_is_the_cache_at_once_without_retries(tmp_path, audio_file):
    """Offline without HF_HUB_OFFLINE: before, 11 lines of huggingface_hub's retries over 25 s."""
    import os
    import subprocess
    import sys
    import time

    wav = audio_file("in.wav", rate=16000, seconds=0.5)
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env |= {"HF_ENDPOINT": "https://hub.invalid", "HF_HOME": str(tmp_path / "hf")}  # no resolver knows it
    command = [sys.executable, "-m", "snac_cli", "encode", wav, tmp_path / "out.snac", "-m", "hubertsiuzdak/snac_32khz"]
    start = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 4 and time.monotonic() - start < 15, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line: no retries said
    assert "not in the local Hugging Face cache" in result.stderr


@pytest.mark.parametrize("name", ["48khz", "24kHz", "snac_24khz"])
def test_a_name_that_is_neither_a_short_name_nor_a_repo_id_goes_to_no_hub(name, monkeypatch):
    monkeypatch.setattr("snac_cli.model.pretrained.download_checkpoint", lambda *a, **k: pytest.fail("to the Hub"))
    with pytest.raises(ModelNotFoundError, match="give a short name"):
        SNAC.from_pretrained(name)


def test_an_empty_model_name_is_not_the_default():
    from snac_cli.errors import UsageError
    from snac_cli.settings import ModelSettings

    for name in ("", "  "):
        with pytest.raises(UsageError, match="the model name is empty"):
            ModelSettings(name)


@pytest.mark.parametrize("path", ["./no/such/folder", "/no/such/folder"])
def test_a_missing_local_folder_is_named(path):
    with pytest.raises(ModelNotFoundError, match="no checkpoint folder at"):
        SNAC.from_pretrained(path)


def test_a_folder_without_weights_is_not_a_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIGS["tiny"]))
    with pytest.raises(ModelNotFoundError, match="needs config.json and pytorch_model.bin"):
        SNAC.from_pretrained(tmp_path)


def copy_of(checkpoint, tmp_path):
    return shutil.copytree(checkpoint("tiny"), tmp_path / "ckpt")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"\x00" * len(b), id="zeroed"),
        pytest.param(lambda b: b"not a checkpoint", id="text"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_a_corrupt_weights_file_is_a_clear_error(tmp_path, checkpoint, damage):
    folder = copy_of(checkpoint, tmp_path)
    weights = folder / "pytorch_model.bin"
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(CheckpointError, match="cannot read checkpoint") as refused:
        SNAC.from_pretrained(folder)
    assert len(str(refused.value)) < 200 and "\n" not in str(refused.value)  # a line, not torch's paragraphs


class Exploit:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_checkpoint_never_runs_code(tmp_path, checkpoint, capsys):
    folder = copy_of(checkpoint, tmp_path)
    torch.save({"x": Exploit()}, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="holds Python objects, not only tensors") as refused:
        SNAC.from_pretrained(folder)
    assert "code ran" not in capsys.readouterr().out
    assert "weights_only" not in str(refused.value)  # never torch's advice to load it with code execution


def test_a_config_that_is_not_utf8_is_said_so(tmp_path, checkpoint):
    folder = copy_of(checkpoint, tmp_path)
    (folder / "config.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(CheckpointError, match="not UTF-8 text"):
        SNAC.from_pretrained(folder)


def rewrite_state_dict(folder, change):
    path = folder / "pytorch_model.bin"
    state_dict = torch.load(path, weights_only=True)
    change(state_dict)
    torch.save(state_dict, path)


def test_missing_and_unexpected_keys_are_named(tmp_path, checkpoint):
    folder = copy_of(checkpoint, tmp_path)

    def change(sd):
        del sd["quantizer.quantizers.0.codebook.weight"]
        sd["extra.weight"] = torch.zeros(1)

    rewrite_state_dict(folder, change)
    with pytest.raises(CheckpointError, match=r"1 missing keys \(quantizer.quantizers.0.codebook.weight\).*"
                       r"1 unexpected keys \(extra.weight\)"):  # fmt: skip
        SNAC.from_pretrained(folder)


def test_a_misshapen_weight_is_named(tmp_path, checkpoint):
    folder = copy_of(checkpoint, tmp_path)
    rewrite_state_dict(folder, lambda sd: sd.update({"encoder.block.0.bias": torch.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"encoder.block.0.bias: \(3,\) in the file, \(8,\) in the model"):
        SNAC.from_pretrained(folder)


@pytest.mark.parametrize(
    "config_text, message",
    [
        ("{not json", "bad config"),
        ('{"sampling_rate": 1, "colour": 2}', "unknown config keys: colour"),
        ("[]", "bad config"),
    ],
)
def test_a_bad_config_is_a_clear_error(tmp_path, checkpoint, config_text, message):
    folder = copy_of(checkpoint, tmp_path)
    (folder / "config.json").write_text(config_text)
    with pytest.raises(CheckpointError, match=message):
        SNAC.from_pretrained(folder)


def test_the_allocator_setting_is_part_of_the_api():
    """`snac_cli.tune_allocator` gives API users the CLI's setting; calling it twice is harmless."""
    import snac_cli

    assert "tune_allocator" in snac_cli.__all__
    snac_cli.tune_allocator()
    snac_cli.tune_allocator()


@pytest.mark.parametrize(
    ("key", "value"),
    [("sampling_rate", "16000"), ("sampling_rate", -1), ("sampling_rate", float("nan")), ("codebook_size", 2**40),
     ("decoder_dim", 1e9), ("vq_strides", []), ("encoder_rates", [0, 2]), ("noise", "yes")],
)  # fmt: skip
def test_a_config_with_values_no_model_has_is_a_checkpoint_error(tmp_path, checkpoint, key, value):
    """Before, `"sampling_rate": "16000"`, `codebook_size: 2**40` or `decoder_dim: 1e9` were internal errors,
    and a negative rate blamed the input."""
    folder = tmp_path / "bad"
    shutil.copytree(checkpoint("tiny"), folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(CheckpointError, match=key):
        SNAC.from_pretrained(folder)


def test_bf16_on_a_cpu_that_cannot_run_it_is_a_usage_error(monkeypatch):
    from snac_cli.engine import devices
    from snac_cli.errors import UsageError
    from snac_cli.settings import Precision

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    with pytest.raises(UsageError, match="bf16 does not run on this CPU"):
        devices.check_precision(Precision.bf16, torch.device("cpu"))
    with pytest.raises(UsageError, match="use fp32 on the CPU"):  # not advising bf16 where it cannot run
        devices.check_precision(Precision.fp16, torch.device("cpu"))

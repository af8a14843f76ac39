"""`snac onnx`: a SNAC model written as ONNX models (encoder, decoder, the decoder's streaming step) with a
config.json that documents them, checked with onnxruntime against PyTorch before the folder appears (written
whole or not at all)."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snac_cli.errors import ModelError, OutputError, UsageError, one_line
from snac_cli.export.graphs import DecoderGraph, EncoderGraph, latent_unit, noise_rates
from snac_cli.export.onnx_config import FILES, describe
from snac_cli.export.step_graph import StepGraph
from snac_cli.model import SNAC
from snac_cli.runtime.onnx_model import CONFIG, OnnxModel, is_onnx_folder
from snac_cli.runtime.step_decoder import StepDecoder

OPSET = 18
TOLERANCE = 1e-4  # decoded audio, ONNX against PyTorch, the same noise (measured: under 1e-6 on the tiny model)
CHECK_UNITS = (3, 7)  # padding units of audio the check runs (two lengths: the graphs must not be fixed)


def export_onnx(model: SNAC, name: str, folder: Path, *, force: bool = False) -> dict[str, Any]:
    """Write `model` (named `name`) as ONNX models into `folder`; returns its config.json."""
    try:
        import onnxscript  # noqa: F401  # torch.onnx's exporter needs it, and onnx
    except ImportError:
        raise UsageError("snac onnx needs the ONNX exporter: pip install 'snac-cli[onnx-export]'") from None
    if not str(folder) or folder.resolve() == Path.cwd() or folder.resolve() in Path.cwd().parents:
        raise UsageError(f"{str(folder)!r}: give a new folder to write the models in")
    if folder.exists() and not force:
        raise OutputError(f"{folder}: exists (use --force to replace it)")
    if folder.is_dir() and not folder.is_symlink() and not is_onnx_folder(str(folder)):  # never a tree of yours
        raise OutputError(f"{folder}: a folder that is not one `snac onnx` wrote: not replaced, even with --force")
    model = model.float().eval()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{folder.name}.", dir=folder.parent) as tmp:
        staging = Path(tmp) / "models"
        staging.mkdir()
        step = StepGraph(model).eval()
        config = describe(model, name, step.layout)
        with torch.no_grad():
            export_encoder(model, staging / FILES["encoder"])
            export_decoder(model, staging / FILES["decoder"])
            export_step(model, step, staging / FILES["step"])
        (staging / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        check(model, staging)
        if folder.exists():
            shutil.rmtree(folder) if folder.is_dir() and not folder.is_symlink() else folder.unlink()
        staging.rename(folder)
    return config


def export_encoder(model: SNAC, path: Path) -> None:
    unit = model.config.pad_unit
    audio = torch.randn(2, 1, 3 * unit) * 0.1
    samples = torch.export.Dim("units", min=1, max=1 << 20) * unit
    shapes = {"audio": {0: torch.export.Dim("batch", min=1, max=1 << 16), 2: samples}}
    exported(EncoderGraph(model).eval(), (audio,), path, ["audio"], codes_names(model), shapes)


def export_decoder(model: SNAC, path: Path) -> None:
    unit, strides, rates = latent_unit(model), model.vq_strides, noise_rates(model)
    codes = [torch.randint(0, model.config.codebook_size, (2, 3 * unit // s)) for s in strides]
    noise = [torch.randn(2, 1, 3 * unit * r) for r in rates]
    units, batch = torch.export.Dim("units", min=1, max=1 << 20), torch.export.Dim("batch", min=1, max=1 << 16)
    shapes = [{0: batch, 1: units * (unit // s)} for s in strides]
    shapes += [{0: batch, 2: torch.export.Dim(f"noise_{k}", min=1, max=1 << 31)} for k in range(len(rates))]
    names = codes_names(model) + [f"noise_{k}" for k in range(len(rates))]
    exported(DecoderGraph(model).eval(), (*codes, *noise), path, names, ["audio"], (tuple(shapes),))


def export_step(model: SNAC, step: StepGraph, path: Path) -> None:
    unit, strides, layout = latent_unit(model), model.vq_strides, step.layout
    codes = [torch.randint(0, model.config.codebook_size, (2, 3 * unit // s)) for s in strides]
    noise = [torch.randn(2, 1, 3 * unit * rate) for rate, _ in layout.noises]
    state = torch.randn(2, layout.state_size) * 0.1
    units, batch = torch.export.Dim("units", min=1, max=1 << 20), torch.export.Dim("batch", min=1, max=1 << 16)
    shapes: list[Any] = [{0: batch, 1: units * (unit // s)} for s in strides] + [None, None]
    shapes += [{0: batch, 2: torch.export.Dim(f"noise_{k}", min=1, max=1 << 31)} for k in range(len(noise))]
    shapes.append({0: batch})
    names = codes_names(model) + ["position", "end"] + [f"noise_{k}" for k in range(len(noise))] + ["state"]
    args = (*codes, torch.tensor(unit), torch.tensor(1 << 40), *noise, state)
    exported(step, args, path, names, ["audio", "state_out"], (tuple(shapes),))


def exported(
    graph: torch.nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], shapes: Any
) -> None:
    """One graph through torch.onnx's exporter (torch.export), its weights inside the file."""
    import contextlib
    import io
    import logging
    import warnings

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed", and the like
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # its steps, its notes
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, args, str(path), dynamo=True, opset_version=OPSET, input_names=inputs,
                              output_names=outputs, dynamic_shapes=shapes, external_data=False)  # fmt: skip
    except Exception as e:  # the exporter's errors run to pages: their first line
        raise ModelError(f"this model does not export to ONNX: {one_line(e)[:300]}") from None


def codes_names(model: SNAC) -> list[str]:
    return [f"codes_{i}" for i in range(len(model.vq_strides))]


def check(model: SNAC, folder: Path) -> None:
    """The written graphs, run by onnxruntime, must give PyTorch's codes and (the same noise) its audio."""
    runtime = OnnxModel(folder)
    rng = np.random.default_rng(0)
    for units in CHECK_UNITS:
        t = np.arange(units * model.config.pad_unit) / model.sampling_rate
        audio = (0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        x = torch.from_numpy(audio)[None, None]
        with torch.no_grad():
            expected = [c.numpy() for c in EncoderGraph(model)(x)]
        codes = runtime.encode(audio[None, None])
        same = np.mean([np.mean(a == b) for a, b in zip(codes, expected, strict=True)])
        if same < 1.0:
            raise ModelError(f"the ONNX encoder gives other codes than PyTorch's ({same:.2%} equal): nothing written")
        noise = [torch.from_numpy(n) for n in runtime.noise(codes)]
        with torch.no_grad():
            audio_expected = DecoderGraph(model)(*(torch.from_numpy(c) for c in codes), *noise).numpy()
        stepped = StepDecoder(runtime, batch=1)  # a frame at a time: the step's state carried 3 x units times
        frame = math.lcm(*model.vq_strides)  # latent steps per frame
        pushes = [stepped.push([c[:, i // s : (i + frame) // s] for c, s in zip(codes, model.vq_strides, strict=True)])
                  for i in range(0, codes[-1].shape[1] * model.vq_strides[-1], frame)]  # fmt: skip
        streamed = np.concatenate([*pushes, stepped.finish()], axis=1)
        for graph, made in (("decoder", runtime.decode(codes)[:, 0]), ("streaming step", streamed)):
            error = float(np.abs(made - audio_expected[:, 0]).max())
            if not error <= TOLERANCE:
                raise ModelError(
                    f"the ONNX {graph}'s audio is {error:.2g} from PyTorch's (at most {TOLERANCE}): nothing written"
                )

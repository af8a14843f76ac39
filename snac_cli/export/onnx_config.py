"""config.json of a folder of ONNX models: the SNAC config, the facts a runtime needs, and each graph's
inputs, outputs and (the streaming step's) state, so that a program in any language can drive them."""

from __future__ import annotations

from typing import Any

from snac_cli.engine.streaming import encode_window
from snac_cli.export.graphs import latent_unit, noise_rates
from snac_cli.export.step_graph import Layout, flush_steps
from snac_cli.model import SNAC
from snac_cli.runtime.onnx_model import FORMAT, VERSION

FILES = {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "step": "decoder_step.onnx"}


def describe(model: SNAC, name: str, layout: Layout) -> dict[str, Any]:
    """config.json for `model` (named `name`), its streaming step laid out as `layout`."""
    c = model.config
    rates = noise_rates(model)
    codes = {f"codes_{i}": {"dtype": "int64", "shape": ["batch", f"n / {s}"]} for i, s in enumerate(c.vq_strides)}
    size, context = encode_window(model)
    step_noise = {f"noise_{k}": {"dtype": "float32", "shape": ["batch", 1, f"n * {r}"],
                                 "note": f"noise layer {k}'s noise at positions position * {r} - {d} on"}
                  for k, (r, d) in enumerate(layout.noises)}  # fmt: skip
    scalar = {"dtype": "int64", "shape": []}
    state = {"dtype": "float32", "shape": ["batch", layout.state_size]}
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": {"name": name, "fingerprint": c.fingerprint(), "config": c.to_dict()},
        "facts": {"sampling_rate": c.sampling_rate, "hop_length": c.hop_length, "pad_unit": c.pad_unit,
                  "latent_unit": latent_unit(model), "vq_strides": list(c.vq_strides),
                  "codebook_size": c.codebook_size, "noise_rates": rates,
                  "windows": {"encode_size": size, "encode_context": context}},
        "graphs": {
            "encoder": {
                "file": FILES["encoder"],
                "inputs": {"audio": {"dtype": "float32", "shape": ["batch", 1, "samples"],
                                     "note": "mono audio at sampling_rate; samples a multiple of pad_unit"}},
                "outputs": codes,
            },
            "decoder": {
                "file": FILES["decoder"],
                "inputs": {**codes, **{f"noise_{k}": {"dtype": "float32", "shape": ["batch", 1, f"n * {r}"]}
                                       for k, r in enumerate(rates)}},
                "outputs": {"audio": {"dtype": "float32", "shape": ["batch", 1, "n * hop_length"]}},
                "note": "n (latent steps) a multiple of latent_unit; noise_k is noise layer k's positional "
                        "noise (snac_cli/runtime/noise.py), drawn as snac decode --seed draws it",
            },
            "step": {
                "file": FILES["step"],
                "inputs": {**codes,
                           "position": {**scalar, "note": "latent steps pushed before this step"},
                           "end": {**scalar, "note": "the stream's length in latent steps (padded to latent_unit) "
                                                     "once known, else any larger number (2**40)"},
                           **step_noise,
                           "state": {**state, "note": "zeros at the start; then the last step's state_out"}},
                "outputs": {"audio": {"dtype": "float32", "shape": ["batch", 1, "n * hop_length"],
                                      "note": "samples from position * hop_length - delay on"},
                            "state_out": state},
                "delay": layout.delay,
                "flush_steps": flush_steps(layout, c.hop_length, latent_unit(model)),
                "state": [{"channels": ch, "steps": n} for ch, n in layout.states],
                "noise": [{"rate": r, "delay": d} for r, d in layout.noises],
                "note": "the exact streaming decoder: push n latent steps (a multiple of latent_unit) at a time; "
                        "drop the first `delay` samples; at the end, pad the codes to a whole latent_unit with "
                        "the last frame, set end, and push flush_steps more steps (any codes) to get the rest",
            },
        },
    }  # fmt: skip

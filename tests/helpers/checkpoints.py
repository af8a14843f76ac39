"""Checkpoints for tests and benchmarks: the official configs and tiny ones, with every parameter of the
reference SNAC's random weights perturbed, saved in the official layout (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

OFFICIAL = {
    "24khz": dict(
        sampling_rate=24000, encoder_dim=48, encoder_rates=[2, 4, 8, 8], decoder_dim=1024,
        decoder_rates=[8, 8, 4, 2], attn_window_size=None, vq_strides=[4, 2, 1],
    ),
    "32khz": dict(
        sampling_rate=32000, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
        decoder_rates=[8, 8, 3, 2], attn_window_size=32, vq_strides=[8, 4, 2, 1],
    ),
    "44khz": dict(
        sampling_rate=44100, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
        decoder_rates=[8, 8, 3, 2], attn_window_size=32, vq_strides=[8, 4, 2, 1],
    ),
}  # fmt: skip
for _config in OFFICIAL.values():
    _config.update(codebook_size=4096, codebook_dim=8, noise=True, depthwise=True)

TINY = {
    # Attention on, odd strides, every option of the official models: fast enough for many tests.
    "tiny": dict(
        sampling_rate=16000, encoder_dim=8, encoder_rates=[2, 3, 4], decoder_dim=128, decoder_rates=[4, 3, 2],
        attn_window_size=4, codebook_size=256, codebook_dim=4, vq_strides=[3, 2, 1], noise=True, depthwise=True,
    ),
    # Strides that halve, as the official models': their codes interleave into language-model tokens.
    "tiny-lm": dict(
        sampling_rate=16000, encoder_dim=8, encoder_rates=[2, 4], decoder_dim=64, decoder_rates=[4, 2],
        attn_window_size=None, codebook_size=256, codebook_dim=4, vq_strides=[4, 2, 1], noise=True, depthwise=True,
    ),
    # The other branches: no attention, plain (non-depthwise) convolutions, no noise.
    "tiny-plain": dict(
        sampling_rate=8000, encoder_dim=4, encoder_rates=[3, 5], decoder_dim=32,
        decoder_rates=[5, 3], attn_window_size=None, codebook_size=100, codebook_dim=3, vq_strides=[2, 1],
        noise=False, depthwise=False,
    ),
}  # fmt: skip
CONFIGS = {**OFFICIAL, **TINY}


def perturb_(model: torch.nn.Module, seed: int) -> None:
    """Move every parameter away from its initial value, so that a core ignoring any of them fails."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith("alpha"):  # Snake: spread over 0.5..3
                p.copy_(0.5 + 2.5 * torch.rand(p.shape, generator=gen))
            elif name.endswith("original0"):  # weight-norm gain
                p.mul_(0.5 + torch.rand(p.shape, generator=gen))
            elif name.endswith("norm.weight"):  # LayerNorm scale
                p.copy_(1 + 0.2 * noise)
            elif p.dim() == 1:  # biases, LayerNorm shift
                p.add_(0.05 * noise)
            else:
                p.add_(0.1 * p.std() * noise)


def center_codebook_inputs_(model: torch.nn.Module, sr: int) -> None:
    """Shift each codebook's input projection bias so that speech spreads over many codes.

    With random weights the latent is dominated by one constant direction and every frame would pick the
    same few codes, which would make "identical codes" a weak check.
    """
    from tests.helpers.signals import speech_like

    x = torch.from_numpy(speech_like(sr, sr, seed=99))[None, None]
    with torch.no_grad():
        residual = model.encoder(model.preprocess(x))
        for quantizer in model.quantizer.quantizers:
            pooled = torch.nn.functional.avg_pool1d(residual, quantizer.stride, quantizer.stride)
            quantizer.in_proj.bias -= quantizer.in_proj(pooled).mean(dim=(0, 2))
            z_q, _ = quantizer(residual)
            residual = residual - z_q


def make_checkpoint(folder: Path, config: dict, seed: int = 0, layout: str = "parametrized") -> Path:
    """Write config.json and weights in the official layout ('parametrized'), or 'legacy' or 'safetensors'."""
    import snac  # the reference implementation, our test oracle

    torch.manual_seed(seed)
    reference = snac.SNAC(**config)
    perturb_(reference, seed)
    center_codebook_inputs_(reference, config["sampling_rate"])
    state_dict = reference.state_dict()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    if layout == "legacy":
        renames = {
            "parametrizations.weight.original0": "weight_g",
            "parametrizations.weight.original1": "weight_v",
        }
        for old, new in renames.items():
            state_dict = {k.replace(old, new): v for k, v in state_dict.items()}
    if layout == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state_dict.items()}, folder / "model.safetensors")
    else:
        torch.save(state_dict, folder / "pytorch_model.bin")
    return folder

"""The one check of a `.snac` file's header and length against its codes and the model that made it, used by
every command that reads one (numpy only, no torch): a header is never trusted for sizes or lengths."""

from __future__ import annotations

from dataclasses import dataclass

from snac_cli.errors import ContainerError, ModelError
from snac_cli.format.header import SnacHeader

# A frame's samples at the model's rate, at most (the official models': 2,048 and 4,096): what bounds a
# file's length by its codes when its model is not at hand (`snac info`, `snac export`).
MAX_FRAME_SAMPLES = 1 << 16


@dataclass(frozen=True)
class ModelFacts:
    """What a file's header and length must agree with: the facts of the model that made it (its config)."""

    model: str  # what messages call it: "the one given", "model 24khz as found here"
    fingerprint: str
    sample_rate: int
    codebook_size: int
    vq_strides: tuple[int, ...]
    frame_samples: int  # samples per frame at the model's rate
    pad_unit: int  # the least whole number of samples the model takes (the encoder pads to it)


def check_made_by(h: SnacHeader, model: ModelFacts) -> None:
    """A file is the model's (another model's file is a ModelError), and its header says what the model
    is: one naming the model's config with another rate, codebook or strides is forged or corrupted."""
    if h.fingerprint != model.fingerprint:
        raise ModelError(
            f"the file was made by model {h.model} (config {h.fingerprint}), which differs from {model.model} "
            f"(config {model.fingerprint})"
        )
    claims = [("sample rate", h.sample_rate, model.sample_rate), ("codebook size", h.codebook_size,
              model.codebook_size), ("strides", h.vq_strides, model.vq_strides)]  # fmt: skip
    wrong = [f"{what} {said} where config {h.fingerprint} has {real}" for what, said, real in claims if said != real]
    if wrong:
        raise ContainerError("corrupted header: " + "; ".join(wrong))


def check_length(h: SnacHeader, original_length: int, frames: int, model: ModelFacts | None = None) -> None:
    """The one check of a file's length, which is never trusted: it must be what its codes cover (at the
    model's rate: `frames` x the model's frame samples, within half a sample) less the encoder's padding
    (under one padding unit). Without the model, only as far as MAX_FRAME_SAMPLES bounds a frame. A longer
    length would decode to made-up silence, or ask for any amount of memory."""
    per_frame = model.frame_samples if model is not None else MAX_FRAME_SAMPLES
    covered = frames * per_frame  # samples at the model's rate
    at_model_rate = original_length * h.sample_rate  # x the original rate, in integers: exact
    too_long = 2 * at_model_rate > (2 * covered + 1) * h.original_sample_rate
    too_short = model is not None and at_model_rate <= (covered - model.pad_unit - 1) * h.original_sample_rate
    if too_long or too_short:
        raise ContainerError(
            f"corrupted file: its length ({original_length:,} samples) does not match its codes ({frames:,} frames)"
        )

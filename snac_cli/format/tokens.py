"""Codes as one flat token sequence for audio language models, and back (numpy only).

Each frame's codes form a tree: a coarse code, its two children one scale finer, theirs, and so on. The
sequence walks each frame's tree depth first (pre-order). For the 24 kHz model that is 7 tokens per frame:
c0[i], c1[2i], c2[4i], c2[4i+1], c1[2i+1], c2[4i+2], c2[4i+3], the order Orpheus TTS uses.
"""

from __future__ import annotations

import math

import numpy as np

OFFSETS = ("none", "scale", "position")
INT64_MAX = 2**63 - 1


def counted(n: int, noun: str) -> str:
    """`1 token`, `2 tokens`: a count and its noun, singular for one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def frame_order(strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """(scale, index within the frame) of each token of one frame, in depth-first pre-order."""
    steps = math.lcm(*strides)
    per_frame = [steps // s for s in strides]
    if per_frame[0] != 1 or any(b % a for a, b in zip(per_frame, per_frame[1:], strict=False)):
        raise ValueError(f"strides {strides}: interleaving needs each stride to be a multiple of the next")
    order: list[tuple[int, int]] = []

    def visit(scale: int, index: int) -> None:
        order.append((scale, index))
        if scale + 1 < len(per_frame):
            ratio = per_frame[scale + 1] // per_frame[scale]
            for child in range(ratio):
                visit(scale + 1, index * ratio + child)

    visit(0, 0)
    return order


def token_offsets(strides: tuple[int, ...], codebook_size: int, offsets: str, base: int) -> np.ndarray:
    """What is added to each position's code: nothing, scale x codebook size, or position x codebook size."""
    if offsets not in OFFSETS:
        raise ValueError(f"unknown offsets {offsets!r} (one of {', '.join(OFFSETS)})")
    order = frame_order(strides)
    if offsets == "none":
        shift = np.zeros(len(order), dtype=np.int64)
    elif offsets == "scale":
        shift = np.array([scale for scale, _ in order], dtype=np.int64) * codebook_size
    else:
        shift = np.arange(len(order), dtype=np.int64) * codebook_size
    if not 0 <= base <= INT64_MAX - len(order) * codebook_size:
        raise ValueError(f"base {base} out of range: tokens must fit 0..{INT64_MAX} (a 64-bit integer)")
    return shift + base


def to_tokens(
    codes: list[np.ndarray], strides: tuple[int, ...], codebook_size: int, offsets: str = "none", base: int = 0
) -> np.ndarray:
    """Per-scale codes (n_i,) of one channel -> the flat token sequence (frames * tokens per frame,)."""
    order = frame_order(strides)
    frames = codes[0].shape[-1]
    per_frame = [c.shape[-1] // frames for c in codes] if frames else [1] * len(codes)
    tokens = np.empty((frames, len(order)), dtype=np.int64)
    for position, (scale, index) in enumerate(order):
        tokens[:, position] = codes[scale].reshape(frames, per_frame[scale])[:, index]
    return (tokens + token_offsets(strides, codebook_size, offsets, base)).reshape(-1)


def from_tokens(
    tokens: np.ndarray, strides: tuple[int, ...], codebook_size: int, offsets: str = "none", base: int = 0
) -> list[np.ndarray]:
    """Inverse of `to_tokens`, checking the length and every token's range for its position."""
    order = frame_order(strides)
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if tokens.size % len(order):
        raise ValueError(f"{counted(tokens.size, 'token')}: not a whole number of frames of {len(order)}")
    frames = tokens.reshape(-1, len(order)) - token_offsets(strides, codebook_size, offsets, base)
    bad = (frames < 0) | (frames >= codebook_size)
    if bad.any():
        frame, position = np.argwhere(bad)[0]
        raise ValueError(
            f"token {int(tokens[frame * len(order) + position])} at frame {frame}, position {position} is out of "
            f"range for {offsets!r} offsets (base {base}, codebook size {codebook_size})"
        )
    steps = math.lcm(*strides)
    codes = [np.empty((len(frames), steps // s), dtype=np.int64) for s in strides]
    for position, (scale, index) in enumerate(order):
        codes[scale][:, index] = frames[:, position]
    return [c.reshape(-1) for c in codes]


def check_template(template: str) -> str:
    """A token's text form must read back unambiguously: exactly one `{}` (no other braces), text before it,
    no whitespace (which the reader skips), no digit right after it, and no digit starting it when nothing
    follows `{}`: what `snac export` writes, `snac import` reads. Raises ValueError otherwise."""
    prefix, _, suffix = template.partition("{}")
    if template.count("{") != 1 or template.count("}") != 1 or "{}" not in template:
        raise ValueError(f"template {template!r} must hold exactly one {{}} and no other braces")
    if not prefix or any(c.isspace() for c in template) or suffix[:1].isdigit():
        raise ValueError(f"template {template!r} needs text before {{}}, no spaces, and no digit right after {{}}")
    if not suffix and prefix[:1].isdigit():  # `1{}`: 12 then 13 reads as 1213, one token
        raise ValueError(f"template {template!r}: with nothing after {{}}, the text before it must not start with "
                         "a digit (the next token's would run into this one's number)")  # fmt: skip
    return template


def format_text(tokens: np.ndarray, template: str = "<snac_{}>") -> str:
    """Tokens as text, e.g. `<snac_12><snac_4109>...` (one channel: a line; format/token_stream.py reads it)."""
    check_template(template)
    return "".join(template.format(int(t)) for t in tokens)

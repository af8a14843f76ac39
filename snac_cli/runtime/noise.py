"""The decoder's positional noise with numpy alone, the same (to float32 rounding of log, cos and sin) as
`snac_cli.model.layers.positional_noise` draws it with PyTorch, so that an ONNX decoder fed this noise gives
the audio `snac decode --seed` gives.

PyTorch's draw, followed here step by step: `torch.randn(4096, generator=torch.Generator().manual_seed(s))`
on the CPU seeds an MT19937 with the low 32 bits of `s` (init_genrand), takes one 32-bit output per value,
keeps its low 24 bits as a uniform u in [0, 1) (u = bits / 2^24), and turns each 16 values into normals by
Box-Muller: for j < 8, r = sqrt(-2 log(1 - u[j])), t = 2 pi u[j + 8], z[j] = r cos t, z[j + 8] = r sin t."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from snac_cli.model.noise_seeds import NOISE_BLOCK, mixed, noise_blocks  # torch-free: the seeding is shared

N = 624  # MT19937's state, in 32-bit words


def positional_noise(layer: int, length: int, rows: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """The noise (len(rows), length) float32 of noise layer `layer` (decoder order), a row per (seed, item,
    start): item `item`'s noise at positions start .. start + length - 1."""
    out = np.empty((len(rows), length), dtype=np.float32)
    for r, (seed, item, start) in enumerate(rows):
        blocks, offset = noise_blocks(start, length)
        if length:
            out[r] = np.concatenate([noise_block(seed, layer, item, block) for block in blocks])[
                offset : offset + length
            ]
    return out


@functools.lru_cache(maxsize=64)
def noise_block(seed: int, layer: int, item: int, block: int) -> np.ndarray:
    """One block of BLOCK normals, the generator seeded from (seed, layer, item, block)."""
    return randn(NOISE_BLOCK, mixed(seed, layer, item, block))


def randn(count: int, seed: int) -> np.ndarray:
    """`count` (a multiple of 16) normals as `torch.randn(count)` draws them from a CPU generator seeded
    with `seed`."""
    bits = np.random.MT19937()
    bits.state = {"bit_generator": "MT19937", "state": {"key": seeded_state(seed & 0xFFFFFFFF), "pos": N}}
    raw = bits.random_raw(count)
    u = ((raw & 0xFFFFFF).astype(np.float64) * 2.0**-24).astype(np.float32).reshape(-1, 16)
    radius = np.sqrt(np.float32(-2) * np.log(np.float32(1) - u[:, :8]))
    theta = np.float32(2 * np.pi) * u[:, 8:]
    return np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1).reshape(-1)


def seeded_state(seed: int) -> np.ndarray:
    """MT19937's state after init_genrand(seed), as PyTorch's `manual_seed` leaves it."""
    state = [seed]
    for j in range(1, N):
        state.append((1812433253 * (state[-1] ^ (state[-1] >> 30)) + j) & 0xFFFFFFFF)
    return np.array(state, dtype=np.uint32)

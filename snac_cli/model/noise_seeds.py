"""How the decoder's positional noise is seeded, torch-free (runtime/noise.py draws it with numpy too): each
block of NOISE_BLOCK positions of each noise layer and batch item has a generator of its own, seeded from
(seed, layer, item, block), so that any split of a sequence draws the same noise."""

from __future__ import annotations

NOISE_BLOCK = 1 << 12  # positions per independent draw of positional noise


def mixed(*values: int) -> int:
    """Integers folded into one 63-bit seed (SplitMix64's finalizer on each step), so that nearby tuples
    give unrelated generators."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        state = (state ^ (state >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        state ^= state >> 31
    return state >> 1


def noise_blocks(start: int, length: int) -> tuple[range, int]:
    """The blocks that positions start .. start + length - 1 fall in, and where `start` lies in the first."""
    first, last = start // NOISE_BLOCK, (start + length - 1) // NOISE_BLOCK
    return range(first, last + 1), start - first * NOISE_BLOCK

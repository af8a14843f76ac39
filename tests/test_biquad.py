"""The numpy biquad gives scipy.signal.lfilter's output and state, for any length and any way of cutting it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from snac_cli.audio.biquad import BLOCK, Biquad
from snac_cli.audio.loudness import k_weighting


@pytest.mark.parametrize("rate", [8000, 44100, 192000])
@pytest.mark.parametrize("pieces", [[1], [BLOCK - 1, 1, BLOCK + 1], [5 * BLOCK + 3, 70000, 0, 17], [200000]])
def test_streamed_filtering_equals_lfilter(rate, pieces):
    rng = np.random.default_rng(len(pieces))
    x = rng.standard_normal((3, sum(pieces)))
    for b, a in k_weighting(rate):
        expected = lfilter(b, a, x, axis=1)
        biquad, state, got = Biquad(b, a), np.zeros((3, 2)), []
        for start, n in zip(np.cumsum([0, *pieces[:-1]]), pieces, strict=True):
            y, state = biquad(x[:, start : start + n], state)  # the state carries the filter across pieces
            got.append(y)
        # lfilter's own sample-by-sample rounding reaches ~8e-12 at 192 kHz over 200,000 samples
        np.testing.assert_allclose(np.concatenate(got, axis=1), expected, rtol=0, atol=1e-10)


def test_the_balanced_state_never_grows():
    for b, a in k_weighting(192000):
        A = Biquad(b, a).A
        assert max(np.linalg.norm(np.linalg.matrix_power(A, n), 2) for n in range(1, 5000, 7)) < 1.0

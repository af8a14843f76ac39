"""The core is bit-compatible with the reference SNAC 1.2.1: same codes, same audio, same API semantics."""

from __future__ import annotations

import pytest
import snac
import torch

from snac_cli import SNAC
from snac_cli.model.fast import FastPath
from tests.helpers.checkpoints import CONFIGS, OFFICIAL
from tests.helpers.signals import music_like, speech_like


@pytest.fixture(scope="module")
def models(checkpoint):
    """models(name) -> (reference, ours), both loaded from the same checkpoint folder."""
    loaded: dict[str, tuple[torch.nn.Module, SNAC]] = {}

    def get(name: str):
        if name not in loaded:
            folder = checkpoint(name)
            loaded.clear()  # keep at most one pair of the large models in memory
            loaded[name] = (snac.SNAC.from_pretrained(str(folder)).eval(), SNAC.from_pretrained(folder))
        return loaded[name]

    return get


def lengths_for(name: str) -> list[int]:
    """Input lengths: a multiple of the padding unit, and odd ones that are not multiples of the hop."""
    config = SNAC(**CONFIGS[name]).config
    if name in ("tiny", "tiny-plain"):
        return [1, config.hop_length - 1, config.pad_unit, 3 * config.pad_unit + 1, config.sampling_rate + 17]
    return [config.pad_unit, config.sampling_rate + 17]


def audio(kind: str, sr: int, n: int, batch: int = 1) -> torch.Tensor:
    """A (batch, 1, n) tensor of speech- or music-like audio."""
    make = speech_like if kind == "speech" else music_like
    return torch.stack([torch.from_numpy(make(sr, n, seed=b)) for b in range(batch)]).unsqueeze(1)


@pytest.mark.parametrize("kind", ["speech", "music"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_encode_gives_the_reference_codes_and_decode_its_audio(models, name, kind):
    reference, ours = models(name)
    for n in lengths_for(name):
        x = audio(kind, ours.sampling_rate, n)
        with torch.inference_mode():
            expected = reference.encode(x)
        codes = ours.encode(x)
        assert [c.shape for c in codes] == [e.shape for e in expected]
        for scale, (c, e) in enumerate(zip(codes, expected, strict=True)):
            assert torch.equal(c, e), f"{name}, {kind}, length {n}: codes differ at scale {scale}"
            if e.numel() >= 12:  # a check that could not fail on constant codes would prove little
                assert e.unique().numel() >= 4

        torch.manual_seed(n)
        with torch.inference_mode():
            expected_audio = reference.decode(expected)
        torch.manual_seed(n)
        decoded = ours.decode(codes)
        assert decoded.shape == expected_audio.shape
        assert (decoded - expected_audio).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", ["tiny", "tiny-plain", "24khz"])
def test_forward_equals_the_reference_on_a_batch(models, name):
    reference, ours = models(name)
    x = audio("speech", ours.sampling_rate, ours.sampling_rate // 2 + 5, batch=2)
    torch.manual_seed(1)
    with torch.inference_mode():
        expected_audio, expected_codes = reference(x)
    torch.manual_seed(1)
    with torch.inference_mode():
        audio_hat, codes = ours(x)
    assert audio_hat.shape == x.shape  # trimmed to the input length
    assert all(torch.equal(c, e) for c, e in zip(codes, expected_codes, strict=True))
    assert (audio_hat - expected_audio).abs().max().item() <= 1e-5


def test_decode_is_untrimmed_and_padding_follows_the_reference(models):
    reference, ours = models("tiny")
    x = audio("music", ours.sampling_rate, 1000)
    unit = ours.config.pad_unit
    assert torch.equal(ours.preprocess(x), reference.preprocess(x))
    assert ours.preprocess(x).shape[-1] == -(-1000 // unit) * unit
    decoded = ours.decode(ours.encode(x))
    assert decoded.shape[-1] == ours.preprocess(x).shape[-1]


def test_decoder_noise_is_seeded_and_matters(models):
    _, ours = models("tiny")
    codes = ours.encode(audio("speech", ours.sampling_rate, 4000))
    torch.manual_seed(3)
    first = ours.decode(codes)
    torch.manual_seed(3)
    assert torch.equal(ours.decode(codes), first)
    torch.manual_seed(4)
    assert not torch.equal(ours.decode(codes), first)


@pytest.mark.parametrize("name", ["tiny", "24khz"])
def test_attributes_match_the_reference(models, name):
    reference, ours = models(name)
    assert ours.sampling_rate == reference.sampling_rate
    assert ours.hop_length == reference.hop_length
    assert list(ours.vq_strides) == list(reference.vq_strides)
    assert ours.n_codebooks == reference.n_codebooks
    assert ours.codebook_size == reference.codebook_size


@pytest.mark.parametrize("name, millions", [("24khz", 19.8), ("32khz", 54.5), ("44khz", 54.5)])
def test_parameter_counts(name, millions):
    import snac as reference_package

    ours = SNAC(**CONFIGS[name])
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in reference_package.SNAC(**CONFIGS[name]).parameters())
    assert round(count / 1e6, 1) == millions


def test_folding_weight_norm_keeps_results_and_removes_the_parametrization(checkpoint):
    config = CONFIGS["tiny"]
    unfolded = SNAC(**config).eval()
    from snac_cli.model.pretrained import load_checkpoint, load_weights

    _, state_dict = load_checkpoint(checkpoint("tiny"))
    load_weights(unfolded, state_dict, source="tiny")
    folded = SNAC.from_pretrained(checkpoint("tiny"))
    assert not any("parametrizations" in k for k in folded.state_dict())
    x = audio("speech", 16000, 5000)
    assert all(torch.equal(a, b) for a, b in zip(unfolded.encode(x), folded.encode(x), strict=True))


def test_the_model_trains_when_unfolded(checkpoint):
    model = SNAC(**CONFIGS["tiny"]).train()
    x = audio("speech", 16000, 2000)
    audio_hat, _ = model(x)
    (audio_hat - x).pow(2).mean().backward()
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in grads)


@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_time_major_fast_path_equals_the_module_path(checkpoint, name, batch):
    """Every kernel of the fast path, at several batch sizes (a stereo file decodes as a batch of two)."""
    ours = SNAC.from_pretrained(checkpoint(name))
    x = audio("speech", ours.sampling_rate, 2 * ours.config.pad_unit, batch)
    fast_encoder, fast_decoder = FastPath(ours.encoder), FastPath(ours.decoder)
    with torch.inference_mode():
        latent = ours.encoder(x)
        assert (fast_encoder(ours.encoder.block, x) - latent).abs().max().item() <= 1e-4
        codes = ours.quantizer(latent)[1]
        z = ours.quantizer.from_codes(codes)
        torch.manual_seed(5)
        expected = ours.decoder(z)
        torch.manual_seed(5)
        decoded = fast_decoder(ours.decoder.model, z)
    assert decoded.shape == expected.shape
    assert (decoded - expected).abs().max().item() <= 1e-5


def test_the_official_shapes_use_every_fast_path_kernel(checkpoint):
    """The equivalence test above covers each kernel only if some official shape takes it."""
    kinds = set()
    for name in OFFICIAL:
        model = SNAC.from_pretrained(checkpoint(name))
        for part in (model.encoder, model.decoder):
            kinds |= {prepared[0] for prepared in FastPath(part).weights.values() if isinstance(prepared[0], str)}
    assert kinds == {"taps", "frames", "linear", "oneDNN", "polyphase", "pairs"}


def test_threads_sharing_the_fast_path_each_mask_only_their_own_batch(models):
    """One prepared model serves every thread (a server's workers): a batch's item lengths belong to its own
    pass, never to another thread's (the load test once crashed one and could have mismasked another)."""
    import threading

    import numpy as np

    from snac_cli.engine.batching import encode_batch

    model = models("tiny")[1]
    rng = np.random.default_rng(0)
    jobs = [[rng.standard_normal((1, n)).astype(np.float32) for n in (3000, 9000)],
            [rng.standard_normal((1, 20000)).astype(np.float32)]]  # fmt: skip
    alone = [encode_batch(model, clips) for clips in jobs]
    failures: list[str] = []

    def loop(i: int) -> None:
        for _ in range(15):
            try:
                got = encode_batch(model, jobs[i])
            except Exception as e:
                failures.append(f"{type(e).__name__}: {e}")
                return
            pairs = [(a, b) for x, y in zip(got, alone[i], strict=True) for a, b in zip(x, y, strict=True)]
            same = all(np.array_equal(a, b) for a, b in pairs)
            if not same:
                failures.append(f"job {i}: other codes")

    threads = [threading.Thread(target=loop, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []

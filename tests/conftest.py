"""Shared fixtures: offline Hub, checkpoints (tests/helpers/checkpoints.py) made once per session, audio files.
Helpers that are not fixtures live in tests/helpers, which benchmarks import too."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports huggingface_hub: the tests never touch the network or the user's cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="snac-test-hub-")

import pytest  # noqa: E402

from tests.helpers.checkpoints import CONFIGS, make_checkpoint  # noqa: E402


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """checkpoint(name) -> a folder holding the named config's checkpoint, made once per session."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = make_checkpoint(tmp_path_factory.mktemp(name), CONFIGS[name], seed=len(made))
        return made[name]

    return get


@pytest.fixture(scope="session")
def tiny(checkpoint) -> Path:
    """The tiny checkpoint's folder: what CLI and codec tests pass as --model."""
    return checkpoint("tiny")


@pytest.fixture(scope="session")
def model(checkpoint) -> Path:
    """The checkpoint the service's tests serve: strides that interleave into language-model tokens."""
    return checkpoint("tiny-lm")


@pytest.fixture
def wav(audio_file) -> Path:
    """A second of speech-like audio at 16 kHz, as a client would send it."""
    return audio_file("in.wav", rate=16000, seconds=1.0)


@pytest.fixture
def audio_file(tmp_path):
    """audio_file(name, rate, channels, seconds, subtype=None) -> path of speech/music-like audio written there."""
    import numpy as np
    import soundfile as sf

    from tests.helpers.signals import music_like, speech_like

    def make(name: str, rate: int = 16000, channels: int = 1, seconds: float = 1.0, subtype: str | None = None) -> Path:
        n = int(rate * seconds)
        makers = [speech_like, music_like]
        samples = np.stack([makers[c % 2](rate, n, seed=c) for c in range(channels)], axis=1)
        path = tmp_path / name
        sf.write(path, samples, rate, subtype=subtype)
        return path

    return make


@pytest.fixture
def good_snac(tmp_path, tiny, audio_file) -> Path:
    """A valid .snac file of half a second, made by the tiny model."""
    from tests.helpers.cli import invoke

    path = tmp_path / "good.snac"
    assert invoke("encode", audio_file("in.wav", seconds=0.5), path, "-m", tiny).exit_code == 0
    return path


@pytest.fixture(scope="module")
def loaded(checkpoint):
    """loaded(name) -> our SNAC from the named config's checkpoint, loaded once per test module."""
    from snac_cli import SNAC

    models: dict[str, SNAC] = {}

    def get(name: str) -> SNAC:
        if name not in models:
            models[name] = SNAC.from_pretrained(checkpoint(name))
        return models[name]

    return get


@pytest.fixture
def dataset(tmp_path):
    """A Parquet table in the Hugging Face Audio layout (tests/helpers/tables.py): 6 rows, row 2 path-only,
    row 4 not audio."""
    from tests.helpers.tables import write_dataset

    return write_dataset(tmp_path)

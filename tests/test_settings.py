"""The option groups: one definition each, shared by the CLI, the library and the workers of a folder run."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from snac_cli.settings import (
    Channels,
    DecodeSettings,
    EncodeSettings,
    ModelSettings,
    Normalize,
    Precision,
    RunSettings,
    Subtype,
)


def test_names_and_enums_are_interchangeable():
    settings = EncodeSettings(channels="keep", normalize="none")
    assert settings.channels is Channels.keep and settings.normalize is Normalize.none
    assert settings.channels == "keep"  # a str enum: library code may compare with the name
    assert ModelSettings(precision="bf16").precision is Precision.bf16
    assert DecodeSettings(subtype="PCM_24").subtype is Subtype.PCM_24


@pytest.mark.parametrize(
    "make",
    [
        lambda: EncodeSettings(channels="stereo"),
        lambda: EncodeSettings(normalize="lufs"),
        lambda: ModelSettings(precision="fp8"),
        lambda: DecodeSettings(subtype="PCM_8"),
    ],
)
def test_an_unknown_choice_is_refused_when_the_settings_are_made(make):
    with pytest.raises(ValueError):
        make()


def test_settings_are_frozen_and_travel_to_worker_processes():
    settings = EncodeSettings(metadata={"speaker": "a"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.normalize = Normalize.none  # type: ignore[misc]
    for value in (settings, ModelSettings("24khz", threads=2), DecodeSettings(44100), RunSettings(jobs=4)):
        assert pickle.loads(pickle.dumps(value)) == value


def test_model_settings_can_key_a_cache():
    assert hash(ModelSettings("24khz")) == hash(ModelSettings("24khz", precision="fp32"))
    assert ModelSettings("24khz") != ModelSettings("24khz", device="cpu")


def test_the_cli_takes_its_defaults_from_the_settings():
    """One definition per option group: the commands' defaults are the dataclasses' own."""
    import inspect

    from snac_cli.cli import coding

    for command, owner in ((coding.encode, EncodeSettings), (coding.roundtrip, EncodeSettings)):
        defaults = inspect.signature(command).parameters
        assert defaults["normalize"].default is owner.normalize
        assert defaults["channels"].default is owner.channels
    decode = inspect.signature(coding.decode).parameters
    assert decode["seed"].default == DecodeSettings.seed and decode["precision"].default is ModelSettings.precision

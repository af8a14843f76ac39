"""Finding and reading checkpoints: short names, Hub repos, local folders, both weight-norm key layouts."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .config import PRETRAINED, SNACConfig

if TYPE_CHECKING:  # torch is imported where weights are read: finding a checkpoint and its config needs none
    import torch
    from torch import nn

WEIGHT_FILES = ("pytorch_model.bin", "model.safetensors")

# torch's legacy weight_norm keys -> the parametrized layout that the official files use.
LEGACY_WEIGHT_NORM_KEYS = {
    "weight_g": "parametrizations.weight.original0",
    "weight_v": "parametrizations.weight.original1",
}


class CheckpointError(Exception):
    """A checkpoint that cannot be read, or that does not fit the model its config describes (the codec reports
    it to users as a model error)."""


class ModelNotFoundError(CheckpointError):
    """A model that is neither a local folder nor in the Hub cache, and cannot be downloaded."""


def load_checkpoint(name_or_path: str | os.PathLike[str], **hub_kwargs: Any) -> tuple[SNACConfig, dict]:
    """Find a checkpoint and read its config and state dict (parametrized weight-norm keys)."""
    config_file, weights_file = find_checkpoint(name_or_path, **hub_kwargs)
    return read_config(config_file), read_state_dict(weights_file)


def find_checkpoint(name_or_path: str | os.PathLike[str], **hub_kwargs: Any) -> tuple[Path, Path]:
    """Paths of config.json and the weights file, from a local folder or the Hub (through its cache)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        weights = [path / name for name in WEIGHT_FILES if (path / name).is_file()]
        if not (path / "config.json").is_file() or not weights:
            raise ModelNotFoundError(
                f"{path} is not a SNAC checkpoint folder: it needs config.json and {' or '.join(WEIGHT_FILES)}"
            )
        return path / "config.json", weights[0]
    name = str(name_or_path)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"no checkpoint folder at {name}")
    if name not in PRETRAINED and name.count("/") != 1:  # a typo of a short name (48khz) goes to no Hub
        raise ModelNotFoundError(
            f"no model {name!r}: give a short name ({', '.join(PRETRAINED)}), a Hub repo id (owner/name) or a folder"
        )
    return download_checkpoint(PRETRAINED.get(name, name), **hub_kwargs)


def hub_reachable(seconds: float = 3.0) -> bool:
    """Whether the Hub's host answers at all: where it does not, the cache is used at once (huggingface_hub
    would retry 5 times over 25 s, a warning line each, before saying it is offline)."""
    from huggingface_hub import constants

    endpoint = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname or "", endpoint.port or 443), timeout=seconds).close()
        return True
    except OSError:
        return False


def download_checkpoint(repo_id: str, **hub_kwargs: Any) -> tuple[Path, Path]:
    """Fetch config.json and the weights from a Hub repo, or take them from the cache when offline."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    not_cached = ModelNotFoundError(
        f"model {repo_id} is not in the local Hugging Face cache and cannot be downloaded here "
        f"(offline or HF_HUB_OFFLINE=1): run `hf download {repo_id}` on a connected machine, "
        "or pass a local folder holding config.json and pytorch_model.bin"
    )
    if not hub_reachable():
        hub_kwargs = {**hub_kwargs, "local_files_only": True}
    try:
        config = hf_hub_download(repo_id, "config.json", **hub_kwargs)
        missing: list[Exception] = []
        for filename in WEIGHT_FILES:
            try:
                return Path(config), Path(hf_hub_download(repo_id, filename, **hub_kwargs))
            except EntryNotFoundError as e:
                missing.append(e)
    except LocalEntryNotFoundError:
        raise not_cached from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(
            f"no model {repo_id} on the Hugging Face Hub (short names: {', '.join(PRETRAINED)})"
        ) from None
    except HFValidationError:
        raise ModelNotFoundError(
            f"{repo_id} is neither a local folder, a short name ({', '.join(PRETRAINED)}) nor a Hub repo id"
        ) from None
    except HfHubHTTPError as e:
        raise ModelNotFoundError(f"cannot download {repo_id}: {e}") from None
    if any(isinstance(e, LocalEntryNotFoundError) for e in missing):
        raise not_cached
    raise ModelNotFoundError(f"Hub repo {repo_id} has no {' or '.join(WEIGHT_FILES)}")


def read_config(path: Path) -> SNACConfig:
    """Parse config.json into a `SNACConfig`."""
    try:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8 text (byte {e.start} is not UTF-8)") from None
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("not a JSON object")
        return SNACConfig.from_dict(values)
    except (OSError, ValueError, TypeError) as e:
        raise CheckpointError(f"bad config {path}: {e}") from None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read weights without running any code from the file (weights_only), in the parametrized layout."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state_dict = load_file(path)
        else:
            state_dict = read_torch_file(path)
    except Exception as e:  # torch and safetensors raise many kinds on a corrupt file
        raise CheckpointError(f"cannot read checkpoint {path}: {reason(e)}") from None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return {parametrized_key(k): v for k, v in state_dict.items()}


def reason(e: Exception) -> str:
    """Why a weights file cannot be read, in a line: torch's weights-only refusal advises loading it with code
    execution, which snac never does; its other messages go on for paragraphs after the first sentence."""
    text = str(e)
    if "Weights only load failed" in text:
        return "it holds Python objects, not only tensors (snac never runs code from a checkpoint)"
    first = text.split(". ")[0].strip().rstrip(".")
    return first.removeprefix("PytorchStreamReader ") or type(e).__name__


def read_torch_file(path: Path) -> dict[str, torch.Tensor]:
    """A `torch.save` file, memory-mapped: tensors are read as they are used, not copied first (with
    `load_state_dict(assign=True)`, a 24 kHz model loads in 0.10 s instead of 0.30 s). Files in the old,
    unzipped format cannot be mapped, and are read whole."""
    import torch

    with warnings.catch_warnings():  # torch's own warnings on a foreign pickle: the refusal says it
        warnings.simplefilter("ignore")
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:
            return torch.load(path, map_location="cpu", weights_only=True)


def parametrized_key(key: str) -> str:
    """Rename a legacy `...weight_g` / `...weight_v` key to the parametrized layout; others pass."""
    prefix, _, leaf = key.rpartition(".")
    return f"{prefix}.{LEGACY_WEIGHT_NORM_KEYS[leaf]}" if leaf in LEGACY_WEIGHT_NORM_KEYS else key


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """Load a state dict strictly, with an error that names missing, unexpected or misshapen keys."""
    expected = model.state_dict()
    problems = []
    if missing := sorted(expected.keys() - state_dict.keys()):
        problems.append(f"{len(missing)} missing keys ({summarize(missing)})")
    if unexpected := sorted(state_dict.keys() - expected.keys()):
        problems.append(f"{len(unexpected)} unexpected keys ({summarize(unexpected)})")
    misshapen = [
        f"{k}: {tuple(state_dict[k].shape)} in the file, {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if misshapen:
        problems.append(f"{len(misshapen)} keys of the wrong shape ({summarize(misshapen)})")
    if problems:
        raise CheckpointError(f"checkpoint {source} does not fit its config: {'; '.join(problems)}")
    model.load_state_dict(state_dict, assign=True)


def summarize(items: list[str], most: int = 3) -> str:
    """The first few items of a list, and how many more."""
    shown = ", ".join(items[:most])
    return shown + (f", and {len(items) - most} more" if len(items) > most else "")

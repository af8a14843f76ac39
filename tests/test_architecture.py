"""The layers, read from every import in the package (function-level ones too): data flows one way,

    cli -> codec, batch (the library) -> engine -> audio, format -> model

and the leaves (errors, files, naming, settings) may be imported from anywhere. docs/architecture.md draws it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "snac_cli"
TOP = {"snac_cli", "snac_cli.__main__"}  # the package's face: it may name anything, for its users
LEAVES = {
    "snac_cli.errors",
    "snac_cli.files",
    "snac_cli.naming",
    "snac_cli.settings",
    "snac_cli.progress",
    "snac_cli.windows",
}
# layer -> the layers it may import (besides itself and the leaves)
ALLOWED = {
    "cli": {"codec", "batch", "tables", "serve", "export", "runtime", "engine", "audio", "format", "model"},
    "serve": {"codec", "audio", "format"},
    "batch": {"codec", "engine", "audio", "format", "model"},
    "tables": {"codec", "batch", "audio", "format"},
    "export": {"codec", "runtime", "engine", "model"},  # ONNX models of the PyTorch model, checked with the runtime
    "codec": {"engine", "runtime", "audio", "format", "model"},  # PyTorch's engine or onnxruntime's models
    "engine": {"format", "model"},  # the facts a file must agree with (format.checks.ModelFacts)
    "runtime": {"audio", "format", "model"},  # ONNX models by onnxruntime, numpy alone (the model: noise_seeds)
    "audio": set(),
    "format": set(),
    "model": set(),
}
HEAVY = ("torch", "einops", "safetensors", "huggingface_hub", "ray")
TORCH_FREE = {"audio", "format", "runtime"}  # `snac info`, the folder planning and ONNX models never load torch


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str | None:
    """The layer a module of ours belongs to: its folder below snac_cli (None for a leaf)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def imports(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> every module it imports, at any level of its code (relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        name = module_name(path, package)
        anchor_of = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = found.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = anchor_of.rsplit(".", node.level - 1)[0] if node.level > 1 else anchor_of
                    base = f"{anchor}.{base}" if base else anchor
                targets.add(base)
                targets |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def violations(found: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, imported) pairs that run against the layers."""
    bad = set()
    for module, targets in found.items():
        own = layer(module)
        if module in TOP:
            continue
        for target in targets - {module}:
            if target.split(".")[0] in HEAVY and (own in TORCH_FREE or module in LEAVES):
                bad.add((module, target))  # torch in a torch-free layer
            if own == "model" and target.startswith("snac_cli") and layer(target) != "model":
                bad.add((module, target))  # the model stands alone: it can be lifted out whole
            if not target.startswith("snac_cli") or target in LEAVES | TOP or layer(target) in (None, own):
                continue
            if module in LEAVES or own is None or layer(target) not in ALLOWED[own]:
                bad.add((module, target))
    return bad


def test_no_import_runs_against_the_layers():
    assert violations(imports()) == set()


def test_every_module_is_in_a_layer_or_a_leaf():
    assert {m for m in imports() if layer(m) is None} - LEAVES - TOP == set()


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("audio/reader.py", "import torch"),
        ("format/container.py", "from snac_cli.model import SNAC"),
        ("model/snac.py", "from snac_cli.errors import ModelError"),
        ("codec/encoding.py", "from snac_cli.cli import app"),
        ("engine/streaming.py", "from snac_cli.codec import load_model"),
        ("errors.py", "from snac_cli.audio.reader import AudioReader"),
    ],
)
def test_a_bad_import_is_caught(tmp_path, importer, imported):
    """The test above can fail: one import against the layers, added to a copy of the package, is found."""
    import shutil

    copy = tmp_path / "snac_cli"
    shutil.copytree(PACKAGE, copy)
    target = copy / importer
    target.write_text(target.read_text() + f"\n\ndef _late():\n    {imported}\n")
    found = violations(imports(copy))
    assert found and {pair[0] for pair in found} == {module_name(target, copy)}
    assert {pair[1].startswith(imported.split()[1]) for pair in found} == {True}


def test_the_library_and_the_cli_load_without_torch():
    """torch is imported where a PyTorch model is loaded, never at a module's top: a torch-free install
    imports every module of the codec, the folder runs, tables, the service and the CLI."""
    names = sorted(module_name(p) for folder in ("codec", "batch", "tables", "serve", "cli")
                   for p in (PACKAGE / folder).rglob("*.py") if p.name != "ray_data.py")  # fmt: skip
    code = f"import sys; import {', '.join(names)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_the_audio_and_format_layers_load_without_torch():
    names = sorted(module_name(p) for folder in TORCH_FREE for p in (PACKAGE / folder).rglob("*.py"))
    names = [n for n in names if n.count(".") > 1]
    code = f"import sys; import {', '.join(names)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr

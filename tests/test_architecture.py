"""The layers, read from every import in the package (function-level ones too): data flows CLI -> library ->
engine -> audio / format -> model, and no import may run against that flow.

KNOWN lists the imports that still do; each is work for issue 11's restructuring, and the test fails when one
disappears (so the list only shrinks) or a new one appears.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "snac_cli"
CLI = {"snac_cli.cli", "snac_cli.reporting", "snac_cli.__main__"}
AUDIO = {"snac_cli.audio", "snac_cli.wav", "snac_cli.loudness", "snac_cli.normalize", "snac_cli.biquad",
         "snac_cli.metrics"}  # fmt: skip
FORMAT = {"snac_cli.container", "snac_cli.tokens", "snac_cli.describe", "snac_cli.edit", "snac_cli.export"}
LEAVES = {"snac_cli.errors", "snac_cli.files", "snac_cli", "snac_cli.allocator", "snac_cli.naming"}  # any layer's
HEAVY = ("torch", "einops", "safetensors", "huggingface_hub", "ray")
KNOWN = {
    ("snac_cli.model.pretrained", "snac_cli.errors"),  # the model's errors carry the CLI's exit code
    ("snac_cli.edit", "snac_cli.model.pretrained"),  # cut/concat read the hop length from the model's config
    ("snac_cli.export", "snac_cli.model.pretrained"),  # import builds a header from the model's config
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """module -> every module it imports, at any level of its code (relative imports resolved)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = found.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets.add(base)
                targets |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
    return found


MODULES = {module_name(path) for path in PACKAGE.rglob("*.py")}


def violations() -> set[tuple[str, str]]:
    """(importer, imported) pairs that run against the layers."""
    bad = set()
    for module, targets in imports().items():
        ours = {t for t in targets if t.startswith("snac_cli")} - {module}
        heavy = {t for t in targets if t.split(".")[0] in HEAVY}
        if module not in CLI:
            bad |= {(module, t) for t in ours & CLI}  # nothing imports the CLI
        if module.startswith("snac_cli.model"):
            bad |= {(module, t) for t in ours if not t.startswith("snac_cli.model")}  # the model stands alone
        if module in AUDIO | FORMAT:
            bad |= {(module, t) for t in heavy}  # no torch in audio and the format
            bad |= {(module, t) for t in ours if t not in AUDIO | FORMAT | LEAVES}
    return bad


def test_no_import_runs_against_the_layers():
    found = violations()
    assert found - KNOWN == set(), f"imports against the layers: {sorted(found - KNOWN)}"
    assert KNOWN - found == set(), f"fixed, so remove from KNOWN: {sorted(KNOWN - found)}"


def test_the_audio_and_format_modules_load_without_torch():
    names = sorted(AUDIO | FORMAT)
    code = f"import sys; import {', '.join(names)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr

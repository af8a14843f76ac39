"""`snac onnx`: a model written as ONNX models, for runtimes without PyTorch (onnxruntime, browsers, apps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snac_cli.cli import options as o
from snac_cli.cli.app import app
from snac_cli.cli.reporting import say
from snac_cli.settings import DEFAULT_MODEL, ModelSettings


@app.command(cls=o.PlainCommand)
def onnx(
    *,
    output: Annotated[
        str, typer.Argument(metavar="OUT_DIR", help="Folder to write: encoder.onnx, decoder.onnx, config.json.")
    ],  # fmt: skip
    model: o.Model = DEFAULT_MODEL,
    force: o.Force = False,
) -> None:
    """Write a model as ONNX models (encoder, decoder) with a config.json documenting their inputs and outputs;
    checked with onnxruntime against PyTorch (codes equal, audio within 1e-4) before anything is written."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise typer.BadParameter("snac onnx needs PyTorch: pip install 'snac-cli[onnx-export]'", param_hint="--model")
    from snac_cli.codec.models import load_model
    from snac_cli.export.onnx_models import export_onnx
    from snac_cli.naming import model_id

    if not model:
        raise typer.BadParameter("an empty model name", param_hint="--model")
    config = export_onnx(load_model(ModelSettings(model, "cpu")), model_id(model), Path(output), force=force)
    say(f"wrote {output}: {', '.join(g['file'] for g in config['graphs'].values())}, config.json")

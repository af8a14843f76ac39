"""`snac export` and `snac import`: `.snac` files to a language model's tokens, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snac_cli.cli import options as o
from snac_cli.cli.app import app
from snac_cli.cli.streams import (
    binary_input,
    binary_output,
    binary_stdout,
    check_output,
    read_snac_input,
    shown,
    stdout,
)
from snac_cli.cli.tables import Row, is_table
from snac_cli.errors import InputError, OutputError, UsageError
from snac_cli.settings import ExportFormat, Offsets


@app.command("export", cls=o.PlainCommand)
def export_codes(
    *,
    files: Annotated[list[str], typer.Argument(metavar="FILES", help=".snac files.")],
    format: Annotated[ExportFormat, typer.Option(help="npy, jsonl, tokens: flat token sequences; npz: per scale.")] = (
        ExportFormat.npy
    ),
    offsets: o.OffsetsOption = Offsets.none,
    base: o.Base = 0,
    template: o.Template = "<snac_{}>",
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FOLDER", help="Folder for the outputs, or - for stdout (default: beside each)."
        ),
    ] = None,
    force: o.Force = False,
) -> None:
    """Export codes for language-model training: one flat token sequence per file and channel (depth-first
    per frame: 7 tokens per frame for 24 kHz, 15 for 32/44 kHz), or per-scale arrays."""
    from snac_cli.batch.plan import Job, collision, collisions
    from snac_cli.files import atomic_output
    from snac_cli.format.export import export_bytes, export_target

    o.refuse_unused(format != ExportFormat.tokens, "--format tokens", template=template != "<snac_{}>")
    o.refuse_unused(format == ExportFormat.npz, "flat tokens (npz holds each scale's codes as they are)",
                  offsets=offsets != Offsets.none, base=base != 0)  # fmt: skip
    to_stdout = output == "-" or (output is None and files == ["-"])  # `cat x.snac | snac export -`
    binary = format in (ExportFormat.npy, ExportFormat.npz)
    if to_stdout and binary and len(files) > 1:
        raise UsageError("only jsonl and tokens can put several files on stdout")
    if to_stdout:
        binary_stdout() if binary else stdout()
    if "-" in files and not to_stdout:
        raise UsageError("stdin has no name to export beside: add -o - (stdout) or -o FOLDER")
    if output not in (None, "-") and not Path(output).is_dir():
        raise OutputError(f"{output}: no such folder (-o names a folder, or - for stdout)")
    jobs = [Job(Path(name), export_target(name, format.value, output)) for name in files]
    if not to_stdout:
        for target, inputs in collisions(jobs).items():
            raise UsageError(collision(target, inputs))
        for job in jobs:
            check_output(str(job.target), force, str(job.source))
    for name, job in zip(files, jobs, strict=True):
        snac = read_snac_input(name)
        try:
            data = export_bytes(snac, name, fmt=format.value, offsets=offsets.value, base=base, template=template)
        except ValueError as e:
            raise InputError(f"{shown(name)}: {e}") from None
        if to_stdout:
            stdout().write(data)
            continue
        with atomic_output(job.target) as out:
            out.write(data)
    if to_stdout:
        stdout().flush()


@app.command("import", cls=o.PlainCommand)
def import_codes(
    *,
    input: Annotated[
        str, typer.Argument(metavar="INPUT", help="Tokens: .npy, .jsonl (first record), or text (.txt or -).")
    ],
    output: Annotated[str, typer.Argument(metavar="OUTPUT", help=".snac file to write, or - for stdout.")],
    model: o.Model = "24khz",
    offsets: o.OffsetsOption = Offsets.none,
    base: o.Base = 0,
    template: o.Template = "<snac_{}>",
    row: Row = None,
    force: o.Force = False,
) -> None:
    """Turn language-model tokens back into a .snac file (checking order, ranges and length), for `snac decode`;
    with --row, a row of a table snac wrote."""
    from snac_cli.codec.models import header_for
    from snac_cli.format.container import write_snac
    from snac_cli.format.export import import_tokens, read_tokens

    check_output(output, force, input)
    target = binary_output(output)
    if row is not None or is_table(input):
        if row is None:
            raise UsageError(f"{input} is a table: choose its row with --row N or --row COLUMN=VALUE")
        o.refuse_unused(True, "tokens (a row's codes name their model and layout)", model=model != "24khz",
                        offsets=offsets != Offsets.none, base=base != 0, template=template != "<snac_{}>")  # fmt: skip
        from snac_cli.codec.models import frame_samples
        from snac_cli.tables.readback import row_snac

        snac = row_snac(input, row)
        frame_samples(snac)  # its model and its length checked, as decoding checks them, before it is written
        write_snac(target, snac)
        return
    with binary_input(input) as stream:
        data = stream.read()
    try:
        tokens = read_tokens(data, Path(input).suffix.lower() if input != "-" else ".txt", template)
        header, per_frame = header_for(model, channels=tokens.shape[0])
        snac = import_tokens(tokens, header, per_frame, offsets=offsets.value, base=base)
    except (ValueError, KeyError) as e:
        raise InputError(f"{shown(input)}: {e}") from None
    write_snac(target, snac)

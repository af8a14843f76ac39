"""`snac info`, `cut` and `concat`: reading and editing `.snac` files without the model's weights."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from snac_cli.cli import options as o
from snac_cli.cli.app import app
from snac_cli.cli.reporting import say
from snac_cli.cli.streams import binary_input, binary_output, check_output, named, read_snac_input


@app.command(cls=o.PlainCommand)
def info(
    *,
    file: Annotated[str, typer.Argument(metavar="FILE", help=".snac file, or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Describe a .snac file (ffprobe-style); verifies its checksums. Does not load the model."""
    from snac_cli.format.info import describe, render

    with binary_input(file) as stream, named(file):
        summary = describe(stream, file)
    typer.echo(json.dumps(summary, indent=2) if as_json else render(summary))


@app.command(cls=o.PlainCommand)
def cut(
    *,
    input: Annotated[str, typer.Argument(metavar="INPUT", help=".snac file, or - for stdin.")],
    output: o.OutputFile,
    start: Annotated[
        float,
        typer.Option(
            parser=o.seconds(0, o.MAX_TIME), metavar="SECONDS", help="Start (moved back to a frame boundary)."
        ),
    ] = 0.0,
    end: Annotated[
        float | None,
        typer.Option(
            parser=o.seconds(0, o.MAX_TIME),
            metavar="SECONDS",
            help="End (moved on to a frame boundary) [default: the end].",
        ),
    ] = None,
    force: o.Force = False,
) -> None:
    """Cut a span out of a .snac file, on frame boundaries, without re-encoding."""
    from snac_cli.codec.models import frame_samples
    from snac_cli.format.container import write_snac
    from snac_cli.format.edit import cut

    check_output(output, force, input)
    target = binary_output(output)
    snac = read_snac_input(input)
    write_snac(target, cut(snac, start, end, frame_samples(snac)))


@app.command(cls=o.PlainCommand)
def concat(
    *,
    inputs: Annotated[
        list[str], typer.Argument(metavar="INPUTS", help=".snac files, made by the same model from alike audio.")
    ],
    output: o.OutputFile,
    force: o.Force = False,
) -> None:
    """Join .snac files one after the other, on frame boundaries, without re-encoding."""
    from snac_cli.codec.models import frame_samples
    from snac_cli.format.container import write_snac
    from snac_cli.format.edit import concat

    check_output(output, force, *inputs)
    target = binary_output(output)
    files = [read_snac_input(name) for name in inputs]
    joined, gains_differ = concat(files, frame_samples(files[0]), names=inputs)
    if gains_differ:
        say("warning: the files were normalized by different gains; the first's is kept")
    write_snac(target, joined)

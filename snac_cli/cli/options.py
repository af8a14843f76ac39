"""The CLI's vocabulary: each option defined once (its flags, metavar, help and bounds), the checks Typer
cannot express, and the help layout. The values' types and defaults are the library's (`settings`)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
import typer.core

from snac_cli.errors import UsageError
from snac_cli.settings import Channels, Normalize, Offsets, Precision

MAX_SECONDS = 3600.0  # audio per inference window or batch: an hour is far past any use, and keeps sizes finite
MAX_TIME = 1e9  # seconds into a file (31 years): finite, unlike inf and nan, which the range refuses


class PlainCommand(typer.core.TyperCommand):
    """A command whose help reads as written: `INPUT [OUTPUT]` in the usage line (Typer writes `{INPUT}`) and
    argument names without Typer's `<str>`."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece.replace("{", "").replace("}", "") for piece in super().collect_usage_pieces(ctx)]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        rows: dict[str, list[tuple[str, str]]] = {"argument": [], "option": []}
        for param in self.get_params(ctx):
            if (record := param.get_help_record(ctx)) is not None and param.param_type_name in rows:
                name = record[0].split(" <")[0] if param.param_type_name == "argument" else record[0]
                rows[param.param_type_name].append((name, record[1]))
        for title, kind in (("Arguments", "argument"), ("Options", "option")):
            if rows[kind]:
                with formatter.section(title):
                    formatter.write_dl(rows[kind])


def seconds(low: float, high: float) -> Any:
    """A parser of seconds in `low`..`high`: NaN and infinity are refused as no number, not as out of range."""

    def parse(value: str | float) -> float:
        try:
            number = float(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a number of seconds") from None
        if not math.isfinite(number):
            raise typer.BadParameter(f"{value} is not a number of seconds: give a finite one, {low:g} to {high:g}")
        if not low <= number <= high:
            raise typer.BadParameter(f"{value} is out of range: {low:g} to {high:g} seconds")
        return number

    return parse


def refuse_unused(refused: bool, what: str, **given: object) -> None:
    """Options given where they do not apply are refused, not ignored: `--manifest` for one file, say."""
    flags = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is not None and value is not False]
    if refused and flags:
        raise UsageError(f"{', '.join(flags)}: only for {what}")


def valid_template(template: str) -> str:
    from snac_cli.format.tokens import check_template

    try:
        return check_template(template)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def parse_rate(value: str) -> str | int:
    """--sample-rate: original, model, or a rate in Hz."""
    if value in ("original", "model"):
        return value
    if value.isdigit() and 0 < int(value) <= 768000:
        return int(value)
    raise typer.BadParameter(f"{value!r} is not original, model, or a rate in Hz", param_hint="--sample-rate")


def parse_metadata(items: list[str]) -> dict[str, str]:
    """--meta KEY=VALUE items as a dict, checked against the format's limits before any work."""
    from snac_cli.batch.tasks import SOURCE_KEY
    from snac_cli.format.container import check_metadata

    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item[:60]!r} is not KEY=VALUE", param_hint="--meta")
        if key == SOURCE_KEY:
            raise typer.BadParameter(f"{SOURCE_KEY} is snac's own key (folder runs keep their stamp in it)")
        pairs[key] = value
    try:
        check_metadata(pairs)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--meta") from None
    return pairs


Model = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        help="24khz, 32khz, 44khz, a Hugging Face repo id, a local checkpoint folder, or a folder of ONNX models "
        "(snac onnx).",
    ),
]
Device = Annotated[str, typer.Option("--device", "-d", metavar="DEVICE", help="auto, cpu, cuda or cuda:N.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
NormalizeOption = Annotated[
    Normalize, typer.Option(help="Input level before encoding (undone on decode): loudness (-16 LUFS), peak, none.")
]
ChannelsOption = Annotated[Channels, typer.Option(help="mix: downmix to mono; keep: encode every channel.")]
Seed = Annotated[
    int,
    typer.Option(min=0, max=2**32 - 1, metavar="N", help="Seed of the decoder's noise (decoding is deterministic)."),
]
Lookahead = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=1024,
        metavar="N",
        help="On stdout, write audio once N frames follow it, sooner than the model's own lookahead (exact): "
        "approximate near the newest frame, lower latency.",
    ),
]
PrecisionOption = Annotated[
    Precision, typer.Option(help="fp32 (exact); bf16 or fp16 are lossy, faster on GPUs (fp16: CUDA only).")
]
OffsetsOption = Annotated[
    Offsets, typer.Option(help="Added to each code: none, scale x codebook size, or position-in-frame x codebook size.")
]
Base = Annotated[
    int,
    typer.Option(min=0, max=2**62, metavar="N", help="Added to every token (a language model's first audio token id)."),
]
Template = Annotated[
    str,
    typer.Option(
        callback=valid_template,
        metavar="TEMPLATE",
        help="Text form of a token, one {} for its number.",
    ),
]
FilesFrom = Annotated[
    str | None,
    typer.Option(
        "--files-from", "-T", metavar="LIST", help="Read the input files from this list (one per line; - for stdin)."
    ),
]
Jobs = Annotated[
    int, typer.Option("--jobs", "-j", min=1, max=256, metavar="N", help="Worker processes for a folder or list.")
]
Manifest = Annotated[
    str | None,
    typer.Option(metavar="PATH", help="JSONL record of a folder or list run [default: OUTPUT/manifest.jsonl]."),
]


def window(help: str) -> Any:
    """--chunk-seconds, with each command's own help (their defaults differ)."""
    return typer.Option("--chunk-seconds", help=help, parser=seconds(0.1, MAX_SECONDS), metavar="SECONDS")


EncodeWindow = Annotated[
    float | None,
    window("Seconds of audio per inference window, memory vs. speed [default: 5 at 24 kHz, 4.6 at 32, 3.4 at 44.1]."),
]
DecodeWindow = Annotated[
    float | None,
    window("Seconds of audio per forward pass: memory and speed, never the output [default: 3, 0.5 with attention]."),
]
OutputFile = Annotated[
    str, typer.Option("--output", "-o", metavar="PATH", help=".snac file to write, or - for stdout.")
]

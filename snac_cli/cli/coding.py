"""`snac encode`, `decode` and `roundtrip`: a file, a stream, or a folder or list of files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from snac_cli.cli import options as o
from snac_cli.cli.app import app
from snac_cli.cli.display import progress_bar
from snac_cli.cli.folders import batch_arguments, run_folder, threads_per_job
from snac_cli.cli.reporting import say
from snac_cli.cli.streams import (
    audio_input,
    binary_input,
    binary_output,
    check_audio_format,
    check_output,
    named,
    shown,
)
from snac_cli.cli.tables import (
    AudioColumn,
    KeepAudio,
    PartRows,
    Row,
    encode_table_command,
    is_table,
    row_input,
    table_run,
)
from snac_cli.errors import InputError, SnacError, UsageError
from snac_cli.settings import (
    DEFAULT_MODEL,
    DecodeSettings,
    EncodeSettings,
    ModelSettings,
    OnInvalid,
    RunSettings,
    Subtype,
    TableSettings,
    TokenSettings,
)

AUDIO = (
    "Audio file (WAV, FLAC, OGG, MP3, ...), - for stdin, or a folder of them; or a table (Parquet file or folder, "
    ".jsonl manifest, .csv) for an OUTPUT.parquet."
)
AUDIO_OUTPUT = "Audio file (.wav, .flac, .ogg, ...), - for WAV on stdout, or a folder."
SNAC_INPUT = ".snac file, - for stdin, or a folder of them (with --tokens: token text, .npy or .jsonl)."
SNAC_OUTPUT = ".snac file to write, - for stdout, a folder (for a folder or list), or OUT.parquet (for a table)."
RAY = "Run a folder, list or table on Ray Data: --ray for a local Ray, --ray=ADDRESS for a cluster (snac-cli[ray])."
BATCH = (
    "Audio per forward pass when a folder's short clips are batched (0: one clip at a time) "
    "[default: one inference window's worth]."
)


@app.command(cls=o.PlainCommand)
def encode(
    *,
    input: Annotated[str, typer.Argument(metavar="INPUT", help=AUDIO)],
    output: Annotated[str | None, typer.Argument(metavar="OUTPUT", help=SNAC_OUTPUT)] = None,
    files_from: o.FilesFrom = None,
    jobs: o.Jobs = 1,
    manifest: o.Manifest = None,
    ray: Annotated[str | None, typer.Option(help=RAY, metavar="[=ADDRESS]")] = None,
    batch_seconds: Annotated[
        float | None, typer.Option(help=BATCH, parser=o.seconds(0, o.MAX_SECONDS), metavar="SECONDS")
    ] = None,
    model: o.Model = DEFAULT_MODEL,
    device: o.Device = ModelSettings.device,
    precision: o.PrecisionOption = ModelSettings.precision,
    normalize: o.NormalizeOption = EncodeSettings.normalize,
    channels: o.ChannelsOption = EncodeSettings.channels,
    meta: Annotated[
        list[str], typer.Option(metavar="KEY=VALUE", help="KEY=VALUE stored in the file; repeatable.")
    ] = [],  # noqa: B006
    window_seconds: o.EncodeWindow = None,
    audio_column: AudioColumn = None,
    keep_audio: KeepAudio = False,
    part_rows: PartRows = TableSettings.part_rows,
    offsets: o.OffsetsOption = TokenSettings.offsets,
    base: o.Base = TokenSettings.base,
    force: o.Force = False,
    quiet: o.Quiet = False,
) -> None:
    """Encode audio into a .snac file of multi-scale codes; a folder or list of files into a mirrored folder; a
    table's rows into a Parquet table of codes and tokens."""
    settings = EncodeSettings(channels, normalize, o.parse_metadata(meta), window_seconds)
    models = ModelSettings(model, device, precision)
    table = files_from is None and table_run(input, output)
    o.refuse_unused(not table, "a table (OUTPUT.parquet)", audio_column=audio_column, keep_audio=keep_audio,
                    part_rows=part_rows != TableSettings.part_rows, offsets=offsets != TokenSettings.offsets,
                    base=base != TokenSettings.base)  # fmt: skip
    if table:
        assert output is not None
        o.refuse_unused(True, "files (a table's rows have no metadata of their own)", meta=bool(meta),
                        manifest=manifest)  # fmt: skip
        encode_table_command(
            input, output, settings=settings, model=models, tokens=TokenSettings(offsets, base),
            table=TableSettings(audio_column, keep_audio, part_rows),
            run=RunSettings(jobs, None, force, quiet, ray, batch_seconds),
        )  # fmt: skip
        return
    many, folder, target = batch_arguments(input, output, files_from)
    o.refuse_unused(
        not many, "a folder or list of files", manifest=manifest, jobs=jobs != 1, batch_seconds=batch_seconds
    )
    if many:
        from snac_cli.batch.tasks import EncodeTask

        task = EncodeTask(settings, replace(models, threads=threads_per_job(jobs)), batch_seconds)
        run = RunSettings(jobs, manifest, force, quiet, ray)
        run_folder(task, input=folder, output=target, files_from=files_from, run=run)
        return
    if ray is not None:
        raise UsageError("--ray runs a folder, a list of files (--files-from) or a table")
    from snac_cli.codec.encoding import encode_file

    check_output(target, force, input)
    name = shown(input)
    encode_file(
        audio_input(input), binary_output(target), settings, model=models, name=name, progress=progress_bar(quiet)
    )


@app.command(cls=o.PlainCommand)
def decode(
    *,
    input: Annotated[str, typer.Argument(metavar="INPUT", help=SNAC_INPUT)],
    output: Annotated[str | None, typer.Argument(metavar="OUTPUT", help=AUDIO_OUTPUT)] = None,
    files_from: o.FilesFrom = None,
    jobs: o.Jobs = 1,
    manifest: o.Manifest = None,
    audio_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="Audio format of a folder's outputs (wav, flac, ogg); on stdout, wav or raw (16-bit PCM, no "
            "header); a file's is its extension's. [default: wav]",
        ),
    ] = None,
    tokens: Annotated[
        bool,
        typer.Option("--tokens", help="INPUT holds language-model tokens (text, .npy, .jsonl), decoded as they come."),
    ] = False,
    offsets: o.OffsetsOption = TokenSettings.offsets,
    base: o.Base = TokenSettings.base,
    template: o.Template = TokenSettings.template,
    on_invalid: Annotated[
        OnInvalid, typer.Option(help="With --tokens, a token out of range: error, or drop-frame (drop its frame).")
    ] = TokenSettings.on_invalid,
    device: o.Device = ModelSettings.device,
    precision: o.PrecisionOption = ModelSettings.precision,
    sample_rate: Annotated[str, typer.Option(metavar="RATE", help="original, model, or a rate in Hz.")] = "original",
    subtype: Annotated[Subtype | None, typer.Option(help="Sample format of WAV/FLAC output (default PCM_16).")] = None,
    seed: o.Seed = DecodeSettings.seed,
    lookahead: o.Lookahead = DecodeSettings.lookahead,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="MODEL", help="Use this model instead of the one the file names."),
    ] = None,
    window_seconds: o.DecodeWindow = None,
    row: Row = None,
    force: o.Force = False,
    quiet: o.Quiet = False,
) -> None:
    """Decode a .snac file to audio at its original rate, channels and length; a folder or list into a folder;
    with --tokens, a language model's tokens as they arrive; with --row, a row of a table snac wrote."""
    from snac_cli.audio.writer import check_output_format

    settings = DecodeSettings(o.parse_rate(sample_rate), subtype, seed, window_seconds, lookahead)
    models = ModelSettings(model, device, precision)
    if lookahead is not None:
        check_lookahead(output)
    fixed_rate = settings.sample_rate if isinstance(settings.sample_rate, int) else None
    subtype_name = subtype.value if subtype else None
    audio_format = check_audio_format(audio_format, input, output, files_from)
    raw = audio_format == "raw"
    token_options = TokenSettings(offsets, base, template, on_invalid)
    unused = {name: getattr(token_options, name) != getattr(TokenSettings, name) for name in ("offsets", "base",
              "template", "on_invalid")}  # fmt: skip
    o.refuse_unused(not tokens, "--tokens", **unused)
    table = row is not None or is_table(input)
    if table:
        check_row(input, output, row, tokens=tokens, files_from=files_from)
    many = not table and (files_from is not None or Path(input).is_dir())
    o.refuse_unused(tokens or not many, "a folder or list of files", manifest=manifest, jobs=jobs != 1)
    if tokens or raw:
        check_stream_options(output, many=many, raw=raw)
    if tokens:
        assert output is not None
        decode_token_input(input, output, settings, token_options, models, raw=raw, force=force, quiet=quiet)
        return
    many, folder, target = (False, None, str(output)) if table else batch_arguments(input, output, files_from)
    if many:
        from snac_cli.batch.tasks import DecodeTask

        suffix = "." + audio_format
        check_output_format(f"*{suffix}", subtype_name, fixed_rate)  # before any work
        task = DecodeTask(settings, replace(models, threads=threads_per_job(jobs)), suffix)
        run = RunSettings(jobs, manifest, force, quiet)
        run_folder(task, input=folder, output=target, files_from=files_from, run=run)
        return
    from snac_cli.codec.decoding import decode_file

    check_output_format(target, subtype_name, fixed_rate)
    check_output(target, force, input)
    warn_lookahead(settings)
    with row_input(input, row) if table else binary_input(input) as stream, named(input):
        decode_file(stream, binary_output(target), settings, model=models, progress=progress_bar(quiet), raw=raw)


def check_row(input: str, output: str | None, row: str | None, *, tokens: bool, files_from: str | None) -> None:
    """A table snac wrote decodes one row, chosen with --row, from its codes (which its tokens were made from)."""
    if row is None:
        raise UsageError(f"{input} is a table: choose its row with --row N or --row COLUMN=VALUE")
    if tokens:
        raise UsageError("--row decodes a row's codes, which its tokens were made from: leave out --tokens")
    if files_from is not None:
        raise UsageError("--row reads one table, not a list of files (--files-from)")
    if output is None:
        raise UsageError("missing the OUTPUT argument")


def check_stream_options(output: str | None, *, many: bool, raw: bool) -> None:
    """--tokens and --format raw take one input and one output; raw goes to stdout only."""
    if many:
        raise UsageError("--tokens and --format raw decode one input, not a folder or list")
    if output is None:
        raise UsageError("missing the OUTPUT argument")
    if raw and output != "-":
        raise UsageError("--format raw writes to stdout: give - as OUTPUT")


def check_lookahead(output: str | None) -> None:
    """--lookahead is for audio streamed as it is decoded."""
    if output != "-":
        raise UsageError("--lookahead is for audio written as it is decoded: give - as OUTPUT")


def warn_lookahead(settings: DecodeSettings) -> None:
    """Said as decoding starts: --lookahead makes audio approximate."""
    if settings.lookahead is not None:
        say(f"warning: --lookahead {settings.lookahead}: audio is written before it is final, approximate where "
            "fewer frames than the model's own lookahead follow it")  # fmt: skip


def decode_token_input(
    input: str, output: str, settings: DecodeSettings, tokens: TokenSettings, models: ModelSettings, *, raw: bool,
    force: bool, quiet: bool,
) -> None:  # fmt: skip
    """`snac decode --tokens`: tokens from a file or a pipe, audio out as it becomes final."""
    from snac_cli.audio.writer import check_output_format
    from snac_cli.codec.token_decoding import decode_tokens

    if not raw:
        check_output_format(output, settings.subtype.value if settings.subtype else None)
    check_output(output, force, input)
    warn_lookahead(settings)
    with binary_input(input) as stream:
        source = stream if input == "-" or Path(input).suffix.lower() not in (".npy", ".jsonl") else input
        try:
            report = decode_tokens(source, binary_output(output), settings, tokens=tokens, model=models, raw=raw,
                                   progress=progress_bar(quiet))  # fmt: skip
        except SnacError:
            raise
        except ValueError as e:  # the tokens' own: out of range, not text, a partial frame
            raise InputError(f"{shown(input)}: {e}") from None
    if report.dropped:
        from snac_cli.format.tokens import counted

        say(f"warning: dropped {counted(report.dropped, 'frame')} with invalid tokens ({report.frames:,} decoded)")


@app.command(cls=o.PlainCommand)
def roundtrip(
    *,
    input: Annotated[str, typer.Argument(metavar="INPUT", help="Audio file to encode and decode.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="PATH", help="Reconstruction (default: INPUT.MODEL.wav beside the input)."
        ),
    ] = None,
    model: o.Model = DEFAULT_MODEL,
    seed: o.Seed = DecodeSettings.seed,
    device: o.Device = ModelSettings.device,
    precision: o.PrecisionOption = ModelSettings.precision,
    normalize: o.NormalizeOption = EncodeSettings.normalize,
    channels: o.ChannelsOption = EncodeSettings.channels,
    keep_snac: Annotated[bool, typer.Option(help="Also keep the .snac file beside the reconstruction.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    force: o.Force = False,
    quiet: o.Quiet = False,
) -> None:
    """Encode and decode in one go, for listening tests; prints speed and quality."""
    from snac_cli.audio.writer import check_output_format
    from snac_cli.codec.roundtrip import roundtrip as run_roundtrip

    target = output or default_roundtrip_name(input, model)
    if input == "-":
        raise InputError("roundtrip needs an input file, not stdin")
    check_output_format(target, None)
    check_output(target, force, input)
    snac_path = str(Path(target).with_suffix(".snac")) if keep_snac else None
    if snac_path:
        check_output(snac_path, force, input)
    report = run_roundtrip(
        input, target, EncodeSettings(channels, normalize), model=ModelSettings(model, device, precision), seed=seed,
        snac_path=snac_path, progress=progress_bar(quiet),
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from snac_cli.cli.report import render_report

        render_report(report)


def default_roundtrip_name(input: str, model: str) -> str:
    """`in.flac` -> `in.24khz.flac` beside it (inputs in other formats get .wav)."""
    path = Path(input)
    extension = path.suffix.lower() if path.suffix.lower() in (".wav", ".flac", ".ogg") else ".wav"
    tag = Path(model.rstrip("/")).name.replace("snac_", "")
    return str(path.with_name(f"{path.stem}.{tag}{extension}"))

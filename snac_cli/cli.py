"""The `snac` command line: Typer commands that parse, call the library, and print.

Heavy modules (torch, the model) are imported inside the commands that need them, so that `snac --help`
and `snac info` answer at once.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer
import typer.core

from . import __version__, reporting
from .batch import AUDIO_SUFFIXES
from .errors import ContainerError, InputError, OutputError, SnacError, UsageError
from .reporting import ReportingGroup

if TYPE_CHECKING:
    from .container import SnacFile


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


app = typer.Typer(
    cls=ReportingGroup,
    help="snac: a neural audio codec for the command line (SNAC, multi-scale discrete codes).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup would eat "[default: ...]" and other bracketed text
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Channels(str, Enum):
    mix = "mix"
    keep = "keep"


class Normalize(str, Enum):
    loudness = "loudness"
    peak = "peak"
    none = "none"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class ExportFormat(str, Enum):
    npy = "npy"
    npz = "npz"
    jsonl = "jsonl"
    tokens = "tokens"


class Offsets(str, Enum):
    none = "none"
    scale = "scale"
    position = "position"


class Subtype(str, Enum):
    PCM_16 = "PCM_16"
    PCM_24 = "PCM_24"
    FLOAT = "FLOAT"


MAX_SECONDS = 3600.0  # audio per chunk or batch: an hour is far past any use, and keeps sizes finite
MAX_TIME = 1e9  # seconds into a file (31 years): finite, unlike inf and nan, which the range refuses

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        help="24khz, 32khz, 44khz, a Hugging Face repo id, or a local checkpoint folder.",
    ),
]
DeviceOption = Annotated[str, typer.Option("--device", "-d", metavar="DEVICE", help="auto, cpu, cuda or cuda:N.")]
ForceOption = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
NormalizeOption = Annotated[
    Normalize, typer.Option(help="Input level before encoding (undone on decode): loudness (-16 LUFS), peak, none.")
]
ChannelsOption = Annotated[Channels, typer.Option(help="mix: downmix to mono; keep: encode every channel.")]
SeedOption = Annotated[
    int,
    typer.Option(min=0, max=2**32 - 1, metavar="N", help="Seed of the decoder's noise (decoding is deterministic)."),
]
PrecisionOption = Annotated[
    Precision, typer.Option(help="fp32 (exact); bf16 or fp16 are lossy, faster on GPUs (fp16: CUDA only).")
]
OffsetsOption = Annotated[
    Offsets, typer.Option(help="Added to each code: none, scale x codebook size, or position-in-frame x codebook size.")
]
BaseOption = Annotated[
    int,
    typer.Option(min=0, max=2**62, metavar="N", help="Added to every token (a language model's first audio token id)."),
]


def valid_template(template: str) -> str:
    from .tokens import check_template

    try:
        return check_template(template)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


TemplateOption = Annotated[
    str,
    typer.Option(
        callback=valid_template,
        metavar="TEMPLATE",
        help="Text form of a token, one {} for its number (--format tokens).",
    ),
]
FilesFromOption = Annotated[
    str | None,
    typer.Option(
        "--files-from", "-T", metavar="LIST", help="Read the input files from this list (one per line; - for stdin)."
    ),
]
JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", min=1, max=256, metavar="N", help="Worker processes for a folder or list.")
]
ManifestOption = Annotated[
    str | None,
    typer.Option(metavar="PATH", help="JSONL record of a folder or list run [default: OUTPUT/manifest.jsonl]."),
]
ChunkOption = Annotated[
    float | None,
    typer.Option(
        help="Seconds of audio per inference chunk, memory vs. speed "
        "[default: 5 encode, 6 decode, longer for models with attention].",
        min=0.1,
        max=MAX_SECONDS,
        metavar="SECONDS",
    ),
]


# ---- plumbing -------------------------------------------------------------------------------------------


def check_output(path: str, force: bool, *inputs: str) -> None:
    """Refuse to clobber an existing output (or an input) before doing any work."""
    if path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{path}: is a directory")
    if any(i != "-" and Path(i).exists() and target.exists() and target.samefile(i) for i in inputs):
        raise OutputError(f"{path}: output would overwrite the input")
    if target.exists() and not force:
        raise OutputError(f"{path}: exists (use --force to overwrite)")
    if not target.parent.is_dir():
        raise OutputError(f"{path}: no such directory {target.parent}")


def binary_input(path: str) -> contextlib.AbstractContextManager[BinaryIO]:
    """An input file (or stdin) opened for reading; every way it cannot be is an input error."""
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    if not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if Path(path).is_dir():
        raise InputError(f"{path}: is a directory")
    try:
        return open(path, "rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or e})") from None


def binary_stdout() -> BinaryIO:
    """stdout for binary data, refused on a terminal (as gzip does): the bytes would only garble it."""
    if sys.stdout.isatty():
        raise UsageError("refusing to write binary data to a terminal; redirect it, or name an output file")
    return sys.stdout.buffer


def binary_output(path: str) -> str | BinaryIO:
    """An output as the writers take it: the path, or stdout for `-`."""
    return binary_stdout() if path == "-" else path


@contextlib.contextmanager
def named(name: str) -> Iterator[None]:
    """Errors about a .snac file's contents name the file (the format's own messages cannot)."""
    try:
        yield
    except ContainerError as e:
        raise ContainerError(f"{'stdin' if name == '-' else name}: {e}") from None


def read_snac_input(name: str) -> SnacFile:
    """A whole `.snac` file from a path or stdin, its errors naming it."""
    from .container import read_snac

    with binary_input(name) as stream, named(name):
        return read_snac(stream)


@contextlib.contextmanager
def bar(description: str, total: float | None, unit: str, quiet: bool) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr, only on a terminal (else a no-op); yields the callback that advances it."""
    if quiet or not sys.stderr.isatty():
        yield lambda amount: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    done = "{task.completed:.1f}/{task.total:.1f}" if unit == "s" else "{task.completed:.0f}/{task.total:.0f}"
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn(f"{done} {unit}")]
    with Progress(
        *columns, TimeElapsedColumn(), TimeRemainingColumn(), transient=True, console=stderr_console()
    ) as display:
        task = display.add_task(description, total=total)
        yield lambda amount: display.advance(task, amount)


@contextlib.contextmanager
def progress_bar(
    description: str, total_seconds: float | None, rate: int, quiet: bool
) -> Iterator[Callable[[int], None] | None]:
    """The bar of one file's audio; yields the callback to feed with model-rate samples (None: no bar)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with bar(description, total_seconds, "s", quiet) as advance:
        yield lambda samples: advance(samples / rate)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def batch_arguments(input: str, output: str | None, files_from: str | None) -> tuple[bool, str | None, str]:
    """(many files?, input, output): a folder input or --files-from (whose one argument is the output
    folder) makes a batch run."""
    if files_from is not None:
        if output is not None:
            raise UsageError("with --files-from, give only the output folder")
        return True, None, input
    if output is None:
        raise UsageError("missing the OUTPUT argument")
    many = Path(input).is_dir()
    if many and (output == "-" or Path(output).suffix.lower() in (".snac", *AUDIO_SUFFIXES)):
        raise UsageError(f"{input} is a folder: OUTPUT must be a folder too, not {output}")
    return many, input, output


def threads_per_job(jobs: int) -> int | None:
    """Each worker's share of the cores, so that workers do not fight over them."""
    import os

    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def run_batch(
    task: Any,  # tasks.EncodeTask or tasks.DecodeTask
    input: str | None,
    output: str,
    files_from: str | None,
    jobs: int,
    manifest: str | None,
    force: bool,
    quiet: bool,
    ray: str | None = None,
) -> None:
    """A folder or list run: plan, skip what is up to date, work, then the manifest and a summary."""
    import time

    from . import batch
    from .files import sweep_partials

    started = time.perf_counter()
    if input is not None and not Path(input).is_dir():
        raise InputError(f"{input}: no such folder")
    out_dir = Path(output)
    sources, root = batch.sources_of(input, files_from, sys.stdin.buffer, task.inputs, exclude=out_dir)
    if not sources:
        raise InputError(f"no {'audio' if len(task.inputs) > 1 else task.inputs[0]} files in {input or files_from}")
    all_jobs = batch.plan(sources, out_dir, task.suffix, root)
    batch.prepare_out_dir(out_dir)
    manifest_path = Path(manifest) if manifest else out_dir / batch.MANIFEST
    batch.check_manifest(manifest_path, all_jobs, force)
    sweep_partials([job.target for job in all_jobs] + [manifest_path])
    records: list[batch.Record] = []
    todo = []
    for job in all_jobs:
        if not batch.is_regular(job.source):  # a FIFO could block the run, a device never end
            records.append(batch.Record(str(job.source), str(job.target), "ignored", error="not a regular file"))
            continue
        existing = None if force else task.existing(job)
        if existing is not None:
            records.append(existing)
        else:
            todo.append(job)
    units = task.units(todo)
    stopped_by: BaseException | None = None
    try:
        with bar(task.verb, len(todo), "files", quiet) as advance:
            if ray is not None:
                from .distributed import run_on_ray

                results = run_on_ray(task, units, None if ray == "local" else ray, jobs)
            else:
                results = batch.run_pool(units, task, jobs)
            for done in results:
                records += done
                advance(len(done))
    except BaseException as e:
        stopped_by = e
        raise
    finally:
        order = {str(job.source): i for i, job in enumerate(all_jobs)}
        records.sort(key=lambda r: order[r.input])
        batch.write_manifest(manifest_path, records)
        if not quiet and not isinstance(stopped_by, SnacError):  # an error says it all, in one line
            typer.echo(f"snac: {batch.summary(records, time.perf_counter() - started)}", err=True)
    for record in [r for r in records if r.status == "ignored"][:10]:
        typer.echo(f"snac: warning: ignored {record.input}: {record.error}", err=True)
    failures = [r for r in records if r.status == "failed"]
    for record in failures[:10]:
        typer.echo(f"snac: failed: {record.error}", err=True)
    if failures:
        raise InputError(f"{len(failures)} of {len(records)} files failed (see the manifest)")


def parse_metadata(items: list[str]) -> dict[str, str]:
    """--meta KEY=VALUE items as a dict, checked against the format's limits before any work."""
    from .container import check_metadata
    from .tasks import SOURCE_KEY

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


# ---- commands -------------------------------------------------------------------------------------------


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"snac {__version__}")
        raise typer.Exit()


@app.callback()
def common(
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Encode audio to compact multi-scale codes (.snac) and back."""
    reporting.state["debug"] = debug


@app.command(cls=PlainCommand)
def encode(
    input: Annotated[
        str,
        typer.Argument(
            metavar="INPUT", help="Audio file (WAV, FLAC, OGG, MP3, ...), - for stdin, or a folder of them."
        ),
    ],
    output: Annotated[
        str | None,
        typer.Argument(metavar="OUTPUT", help=".snac file to write, - for stdout, or a folder (for a folder or list)."),
    ] = None,
    files_from: FilesFromOption = None,
    jobs: JobsOption = 1,
    manifest: ManifestOption = None,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run a folder or list on Ray Data: --ray for a local Ray, --ray=ADDRESS for a cluster "
            "(needs snac-cli[ray]).",
            metavar="[=ADDRESS]",
        ),
    ] = None,
    batch_seconds: Annotated[
        float | None,
        typer.Option(
            help="Audio per forward pass when a folder's short clips are batched (0: one clip at a time) "
            "[default: one chunk's worth].",
            min=0,
            max=MAX_SECONDS,
            metavar="SECONDS",
        ),
    ] = None,
    model: ModelOption = "24khz",
    device: DeviceOption = "auto",
    precision: PrecisionOption = Precision.fp32,
    normalize: NormalizeOption = Normalize.loudness,
    channels: ChannelsOption = Channels.mix,
    meta: Annotated[
        list[str], typer.Option(metavar="KEY=VALUE", help="KEY=VALUE stored in the file; repeatable.")
    ] = [],  # noqa: B006
    chunk_seconds: ChunkOption = None,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Encode audio into a .snac file of multi-scale codes; a folder or list of files into a mirrored folder."""
    metadata = parse_metadata(meta)
    many, input, output = batch_arguments(input, output, files_from)
    if many:
        from .tasks import EncodeTask

        task = EncodeTask(
            model, device, precision.value, channels.value, normalize.value, metadata, chunk_seconds,
            threads=threads_per_job(jobs), batch_seconds=batch_seconds,
        )  # fmt: skip
        run_batch(task, input, output, files_from, jobs, manifest, force, quiet, ray)
        return
    if ray is not None:
        raise UsageError("--ray runs a folder or a list of files (--files-from)")

    from .audio import AudioReader
    from .codec import encode as encode_audio
    from .codec import load_model, model_id
    from .files import atomic_output

    assert output is not None
    check_output(output, force, input)
    source = sys.stdin.buffer if input == "-" else input
    name = "stdin" if input == "-" else input
    target = contextlib.nullcontext(binary_stdout()) if output == "-" else None
    with AudioReader(source, name=name, spool=normalize != Normalize.none) as audio:
        snac_model = load_model(model, device, precision.value)
        seconds = audio.frames / audio.sample_rate if audio.frames is not None else None
        with progress_bar("encoding", seconds, snac_model.sampling_rate, quiet) as progress:
            with target or atomic_output(Path(output)) as stream:
                encode_audio(
                    snac_model, model_id(model), audio, stream, channels.value, normalize.value,
                    metadata, chunk_seconds, progress,
                )  # fmt: skip
                stream.flush()


@app.command(cls=PlainCommand)
def decode(
    input: Annotated[str, typer.Argument(metavar="INPUT", help=".snac file, - for stdin, or a folder of them.")],
    output: Annotated[
        str | None,
        typer.Argument(metavar="OUTPUT", help="Audio file (.wav, .flac, .ogg, ...), - for WAV on stdout, or a folder."),
    ] = None,
    files_from: FilesFromOption = None,
    jobs: JobsOption = 1,
    manifest: ManifestOption = None,
    audio_format: Annotated[
        str,
        typer.Option(
            "--format", metavar="FORMAT", help="Audio format of the files a folder or list decodes to (wav, flac, ogg)."
        ),
    ] = "wav",
    device: DeviceOption = "auto",
    precision: PrecisionOption = Precision.fp32,
    sample_rate: Annotated[str, typer.Option(metavar="RATE", help="original, model, or a rate in Hz.")] = "original",
    subtype: Annotated[Subtype | None, typer.Option(help="Sample format of WAV/FLAC output (default PCM_16).")] = None,
    seed: SeedOption = 0,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="MODEL", help="Use this model instead of the one the file names."),
    ] = None,
    chunk_seconds: ChunkOption = None,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Decode a .snac file to audio at its original rate, channels and length; a folder or list into a folder."""
    from .audio import check_output_format

    rate_choice = parse_rate(sample_rate)
    sample_format = subtype.value if subtype else None
    fixed_rate = rate_choice if isinstance(rate_choice, int) else None
    many, input, output = batch_arguments(input, output, files_from)
    if many:
        from .tasks import DecodeTask

        suffix = "." + audio_format.lower().lstrip(".")
        check_output_format(f"*{suffix}", sample_format, fixed_rate)  # before any work
        task = DecodeTask(
            model, device, precision.value, rate_choice, sample_format, seed, chunk_seconds,
            threads=threads_per_job(jobs), suffix=suffix,
        )  # fmt: skip
        run_batch(task, input, output, files_from, jobs, manifest, force, quiet)
        return
    from .codec import decode_file, load_model

    assert output is not None
    check_output_format(output, sample_format, fixed_rate)
    check_output(output, force, input)
    with binary_input(input) as stream, named(input):
        decode_file(
            stream,
            binary_output(output),
            lambda name: load_model(model or name, device, precision.value),
            rate_choice, sample_format, seed, chunk_seconds,
            lambda description, seconds, rate: progress_bar(description, seconds, rate, quiet),
        )  # fmt: skip


def parse_rate(value: str) -> str | int:
    if value in ("original", "model"):
        return value
    if value.isdigit() and 0 < int(value) <= 768000:
        return int(value)
    raise typer.BadParameter(f"{value!r} is not original, model, or a rate in Hz", param_hint="--sample-rate")


@app.command(cls=PlainCommand)
def roundtrip(
    input: Annotated[str, typer.Argument(metavar="INPUT", help="Audio file to encode and decode.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="PATH", help="Reconstruction (default: INPUT.MODEL.wav beside the input)."
        ),
    ] = None,
    model: ModelOption = "24khz",
    device: DeviceOption = "auto",
    precision: PrecisionOption = Precision.fp32,
    normalize: NormalizeOption = Normalize.loudness,
    channels: ChannelsOption = Channels.mix,
    seed: SeedOption = 0,
    keep_snac: Annotated[bool, typer.Option(help="Also keep the .snac file beside the reconstruction.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Encode and decode in one go, for listening tests; prints speed and quality."""
    from .audio import check_output_format
    from .roundtrip import run_roundtrip

    target = output or default_roundtrip_name(input, model)
    if input == "-":
        raise InputError("roundtrip needs an input file, not stdin")
    check_output_format(target, None)
    check_output(target, force, input)
    snac_path = str(Path(target).with_suffix(".snac")) if keep_snac else None
    if snac_path:
        check_output(snac_path, force, input)

    def bar(description: str, seconds: float, rate: int):
        return progress_bar(description, seconds, rate, quiet)

    report = run_roundtrip(
        input, target, model, device, normalize.value, channels.value, seed, snac_path, bar, precision.value
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        from .roundtrip import render_report

        render_report(report)


def default_roundtrip_name(input: str, model: str) -> str:
    """`in.flac` -> `in.24khz.flac` beside it (inputs in other formats get .wav)."""
    path = Path(input)
    extension = path.suffix.lower() if path.suffix.lower() in (".wav", ".flac", ".ogg") else ".wav"
    tag = Path(model.rstrip("/")).name.replace("snac_", "")
    return str(path.with_name(f"{path.stem}.{tag}{extension}"))


@app.command(cls=PlainCommand)
def info(
    file: Annotated[str, typer.Argument(metavar="FILE", help=".snac file, or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Describe a .snac file (ffprobe-style); verifies its checksums. Does not load the model."""

    from .describe import describe, render

    with binary_input(file) as stream, named(file):
        summary = describe(stream, file)
    typer.echo(json.dumps(summary, indent=2) if as_json else render(summary))


@app.command("export", cls=PlainCommand)
def export_codes(
    files: Annotated[list[str], typer.Argument(metavar="FILES", help=".snac files.")],
    format: Annotated[ExportFormat, typer.Option(help="npy, jsonl, tokens: flat token sequences; npz: per scale.")] = (
        ExportFormat.npy
    ),
    offsets: OffsetsOption = Offsets.none,
    base: BaseOption = 0,
    template: TemplateOption = "<snac_{}>",
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FOLDER", help="Folder for the outputs, or - for stdout (default: beside each)."
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Export codes for language-model training: one flat token sequence per file and channel (depth-first
    per frame: 7 tokens per frame for 24 kHz, 15 for 32/44 kHz), or per-scale arrays."""

    from .export import default_output, export_bytes
    from .files import atomic_output

    to_stdout = output == "-" or (output is None and files == ["-"])  # `cat x.snac | snac export -`
    binary = format in (ExportFormat.npy, ExportFormat.npz)
    if to_stdout and binary and len(files) > 1:
        raise UsageError("only jsonl and tokens can put several files on stdout")
    if to_stdout and binary:
        binary_stdout()
    if "-" in files and not to_stdout:
        raise UsageError("stdin has no name to export beside: add -o - (stdout) or -o FOLDER")
    if output not in (None, "-") and not Path(output).is_dir():
        raise OutputError(f"{output}: no such folder (-o names a folder, or - for stdout)")
    for name in files:
        snac = read_snac_input(name)
        try:
            data = export_bytes(snac, name, format.value, offsets.value, base, template)
        except ValueError as e:
            raise InputError(f"{name}: {e}") from None
        if to_stdout:
            sys.stdout.buffer.write(data)
            continue
        target = default_output(name, format.value)
        if output is not None:
            target = Path(output) / target.name
        check_output(str(target), force, name)
        with atomic_output(target) as out:
            out.write(data)
    sys.stdout.flush()


@app.command("import", cls=PlainCommand)
def import_codes(
    input: Annotated[
        str, typer.Argument(metavar="INPUT", help="Tokens: .npy, .jsonl (first record), or text (.txt or -).")
    ],
    output: Annotated[str, typer.Argument(metavar="OUTPUT", help=".snac file to write, or - for stdout.")],
    model: ModelOption = "24khz",
    offsets: OffsetsOption = Offsets.none,
    base: BaseOption = 0,
    template: TemplateOption = "<snac_{}>",
    force: ForceOption = False,
) -> None:
    """Turn language-model tokens back into a .snac file (checking order, ranges and length), for `snac decode`."""

    from .container import write_snac
    from .export import header_for, import_tokens, read_tokens

    check_output(output, force, input)
    target = binary_output(output)
    with binary_input(input) as stream:
        data = stream.read()
    try:
        tokens = read_tokens(data, Path(input).suffix.lower() if input != "-" else ".txt", template)
        header, hop = header_for(model, channels=tokens.shape[0])
        snac = import_tokens(tokens, header, hop, offsets.value, base)
    except (ValueError, KeyError) as e:
        raise InputError(f"{input}: {e}") from None
    write_snac(target, snac)


OutputFileOption = Annotated[
    str, typer.Option("--output", "-o", metavar="PATH", help=".snac file to write, or - for stdout.")
]


@app.command(cls=PlainCommand)
def cut(
    input: Annotated[str, typer.Argument(metavar="INPUT", help=".snac file, or - for stdin.")],
    output: OutputFileOption,
    start: Annotated[
        float, typer.Option(min=0, max=MAX_TIME, metavar="SECONDS", help="Start (moved back to a frame boundary).")
    ] = 0.0,
    end: Annotated[
        float | None,
        typer.Option(
            min=0, max=MAX_TIME, metavar="SECONDS", help="End (moved on to a frame boundary) [default: the end]."
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Cut a span out of a .snac file, on frame boundaries, without re-encoding."""

    from .container import write_snac
    from .edit import cut, frame_samples

    check_output(output, force, input)
    target = binary_output(output)
    snac = read_snac_input(input)
    write_snac(target, cut(snac, start, end, frame_samples(snac)))


@app.command(cls=PlainCommand)
def concat(
    inputs: Annotated[
        list[str], typer.Argument(metavar="INPUTS", help=".snac files, made by the same model from alike audio.")
    ],
    output: OutputFileOption,
    force: ForceOption = False,
) -> None:
    """Join .snac files one after the other, on frame boundaries, without re-encoding."""

    from .container import write_snac
    from .edit import concat, frame_samples

    check_output(output, force, *inputs)
    target = binary_output(output)
    files = [read_snac_input(name) for name in inputs]
    joined, gains_differ = concat(files, frame_samples(files[0]), names=inputs)
    if gains_differ:
        typer.echo("snac: warning: the files were normalized by different gains; the first's is kept", err=True)
    write_snac(target, joined)


def main() -> None:
    from .allocator import tune_allocator

    tune_allocator()  # before any tensor exists
    reporting.install_signal_handlers()
    # `--ray` alone means a local Ray; an address must be attached (--ray=ADDRESS), as a value is optional.
    sys.argv[1:] = ["--ray=local" if arg == "--ray" else arg for arg in sys.argv[1:]]
    app(prog_name="snac")

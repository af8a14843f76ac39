"""Typed settings: each option group defined once, for the CLI (its choices and defaults), the library and the
workers of a folder run.

Torch-free, so that the CLI builds them before anything heavy loads. The enums subclass `str`: a value equals
its name (`Channels.mix == "mix"`), so library users may pass either, and settings coerce names to enums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from snac_cli.errors import UsageError

DEFAULT_MODEL = "24khz"  # speech, the most used


class Channels(str, Enum):
    """How an input's channels are coded."""

    mix = "mix"  # downmixed to mono: the models are mono, and one coded channel is 1/N the tokens
    keep = "keep"  # every channel coded on its own


class Normalize(str, Enum):
    """The input's level before encoding; the gain is stored and undone on decode."""

    loudness = "loudness"  # -16 LUFS (ITU-R BS.1770), the peak held under 0.99: the level the models saw
    peak = "peak"  # the peak to 0.99
    none = "none"


class Precision(str, Enum):
    """The model's float type. Only fp32 gives the reference's codes; bf16 and fp16 are faster on GPUs."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"  # CUDA only


class Subtype(str, Enum):
    """The sample format of WAV and FLAC outputs."""

    PCM_16 = "PCM_16"
    PCM_24 = "PCM_24"
    FLOAT = "FLOAT"


class Offsets(str, Enum):
    """What is added to each code to make a language model's token (docs/format.md)."""

    none = "none"
    scale = "scale"  # + scale index x codebook size: each scale its own token range
    position = "position"  # + position in the frame x codebook size: each slot its own range


class OnInvalid(str, Enum):
    """What decoding tokens does with a token out of range for its place."""

    error = "error"  # stop, naming the token's index
    drop_frame = "drop-frame"  # drop the token's whole frame and go on (language models do emit junk)


class ExportFormat(str, Enum):
    """What `snac export` writes."""

    npy = "npy"  # flat tokens (channels, n)
    npz = "npz"  # codes per scale
    jsonl = "jsonl"  # flat tokens, one JSON record per file
    tokens = "tokens"  # flat tokens as text, one line per channel


@dataclass(frozen=True)
class ModelSettings:
    """Which model, where it runs, and at what precision."""

    name: str | None = None  # short name, Hub repo id or local folder; None: DEFAULT_MODEL, or a file's own model
    device: str = "auto"  # auto (CUDA when present), cpu, cuda or cuda:N
    precision: Precision = Precision.fp32
    threads: int | None = None  # torch's CPU threads (a folder run's worker takes its share); None: torch's choice

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))
        if self.name is not None and not self.name.strip():  # not the default: a name left out by mistake
            raise UsageError("the model name is empty: give 24khz, 32khz, 44khz, a Hub repo id or a folder")


@dataclass(frozen=True)
class EncodeSettings:
    """What shapes the codes of an encoding (besides the model)."""

    channels: Channels = Channels.mix
    normalize: Normalize = Normalize.loudness
    metadata: Mapping[str, str] = field(default_factory=dict)  # stored in the file, KEY=VALUE
    window_seconds: float | None = None  # audio per inference window (memory vs. speed); None: the engine's

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", Channels(self.channels))
        object.__setattr__(self, "normalize", Normalize(self.normalize))
        object.__setattr__(self, "metadata", dict(self.metadata))


@dataclass(frozen=True)
class DecodeSettings:
    """What shapes the audio of a decoding (besides the model)."""

    sample_rate: str | int = "original"  # original, model, or a rate in Hz
    subtype: Subtype | None = None  # None: the format's default (PCM_16 for WAV and FLAC)
    seed: int = 0  # of the decoder's noise: decoding is deterministic
    window_seconds: float | None = None  # latent frames per inference window, in seconds; None: the engine's
    # Frames that must follow a sample before it is returned; None: the model's own, so that every sample is
    # final. Fewer return audio sooner, approximate near the last frame (engine/stream_decoder.py).
    lookahead: int | None = None

    def __post_init__(self) -> None:
        if self.subtype is not None:
            object.__setattr__(self, "subtype", Subtype(self.subtype))


@dataclass(frozen=True)
class RunSettings:
    """How a folder or list run goes (what it makes is the encode or decode settings')."""

    jobs: int = 1  # worker processes (or Ray actors)
    manifest: str | None = None  # None: OUTPUT/manifest.jsonl
    force: bool = False  # overwrite files that snac did not write, and redo what is up to date
    quiet: bool = False  # no progress bar or summary
    ray: str | None = None  # None: local processes; "local" or a cluster's address: Ray Data
    batch_seconds: float | None = None  # audio per forward pass of short clips (0: one at a time); None: a window's


@dataclass(frozen=True)
class TableSettings:
    """How a table's rows are read and its output table written (`snac encode DATA OUT.parquet`)."""

    audio_column: str | None = None  # None: `audio`, else `audio_filepath` (a NeMo-style manifest's)
    keep_audio: bool = False  # copy the audio column into the output too
    # Rows per part file of the output: a killed run loses at most the part it was writing; the parts are
    # also the shards a reader (Ray Data, `datasets`) splits the table into.
    part_rows: int = 1000

    def __post_init__(self) -> None:
        if self.audio_column is not None and not self.audio_column.strip():
            raise UsageError("--audio-column is empty: give the name of the column that holds the audio")
        if self.part_rows < 1:
            raise UsageError(f"--part-rows must be at least 1, not {self.part_rows}")


@dataclass(frozen=True)
class TokenSettings:
    """How a language model's flat tokens map to codes (`snac export` / `import`, `decode --tokens`)."""

    offsets: Offsets = Offsets.none
    base: int = 0  # added to every token: the model's first audio token id
    template: str = "<snac_{}>"  # a token's text form, one {} for its number
    on_invalid: OnInvalid = OnInvalid.error

    def __post_init__(self) -> None:
        object.__setattr__(self, "offsets", Offsets(self.offsets))
        object.__setattr__(self, "on_invalid", OnInvalid(self.on_invalid))

    @property
    def drop_frame(self) -> bool:
        return self.on_invalid == OnInvalid.drop_frame


@dataclass(frozen=True)
class ServeSettings:
    """How `snac serve` listens, what it serves and what it admits."""

    host: str = "127.0.0.1"  # loopback; any other address needs a token
    port: int = 8000
    models: tuple[str, ...] = (DEFAULT_MODEL,)  # loaded at start and kept warm; the first is the default
    device: str = "auto"
    max_body_mb: float = 64.0  # a larger request body: 413
    max_queue: int = 16  # requests admitted at once (at work or waiting for a worker); past it: 503, Retry-After
    # Threads that run the model: each holds one request's activations, and torch's own threads share the
    # cores (on 2 cores, 8 requests at once on the default thread pool took the server from 1.0 to 1.6 GB).
    workers: int = 2
    # Requests (encodes; decodes and streams, stepping together) that share a forward pass. 1: none wait.
    # More pays on a GPU, and for 24 kHz streams on a CPU too (8 cost 0.59 of 8 alone), at more memory.
    max_batch: int = 1
    max_wait_ms: float = 10.0  # how long a request waits for others to join its batch
    timeout_seconds: float = 300.0  # per request: 504 past it; its work stops at its next inference window
    token: str | None = None  # every request must carry it (Authorization: Bearer TOKEN)
    # WebSocket token streams at once, a budget of their own: silent streams filling --max-queue locked out
    # every encode (503).
    max_streams: int = 16
    # The longest a client may stay silent: between connecting and its request's headers, between pieces of
    # a body, between a stream's tokens (a message with none does not count). Slow and idle clients held 500
    # descriptors for 30-60 s before.
    idle_seconds: float = 10.0
    max_connections: int = 256  # open connections at once; past it a request gets 503 (uvicorn's limit)
    # Tokens in one WebSocket message: 4096 is 50 s of 24 kHz audio. It is decoded in steps of one
    # inference window, other streams' pushes between them (one message of 35,000 took 12 GB before).
    max_message_tokens: int = 4096

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models) or (DEFAULT_MODEL,))

"""What the service does for a request, without HTTP: the models it serves (loaded once, at start), the
requests it admits, and each job run by the library facade on bytes."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from snac_cli.codec import PushBatcher
from snac_cli.codec.decoding import decode_file, verify
from snac_cli.codec.encoding import encode_file
from snac_cli.codec.models import header_for, load_model
from snac_cli.codec.roundtrip import roundtrip
from snac_cli.errors import InputError, SnacError
from snac_cli.format.container import SnacReader, write_snac
from snac_cli.format.export import import_tokens, integer_rows
from snac_cli.naming import model_id
from snac_cli.progress import Advance, Progress
from snac_cli.serve.batcher import EncodeBatcher
from snac_cli.settings import DecodeSettings, EncodeSettings, ModelSettings, ServeSettings

T = TypeVar("T")


class Busy(SnacError):
    """The service is at its limit of requests at work."""


class Unauthorized(SnacError):
    """A request without the server's token."""


class ShuttingDown(Busy):
    """The server is draining: requests at work finish, new ones are refused."""


class NotServed(SnacError):
    """A request named a model this service does not serve."""


class TooLarge(SnacError):
    """A request body over --max-body-mb."""


class TooLong(SnacError):
    """A request past --timeout (its work runs on in its thread: a forward pass cannot be stopped)."""


class Left(SnacError):
    """The client went away: its work stopped at the next inference window."""


def watched(gone: threading.Event | None) -> Progress:
    """A progress display that shows nothing and stops the work, at its next step, once `gone` is set."""

    @contextlib.contextmanager
    def progress(description: str, total: float | None, unit: str) -> Iterator[Advance]:
        def advance(amount: float) -> None:
            if gone is not None and gone.is_set():
                raise Left("the client left")

        yield advance

    return progress


class Service:
    """The models a `snac serve` process serves and the requests at work: names are the only way a request
    picks a model, so that no request can make the server read a path of its choosing."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.served = {model_id(name): name for name in settings.models}  # a file's model id -> our name
        self.working = 0
        self.draining = False  # set by the first SIGINT/SIGTERM (serve/server.py): new requests get 503
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="snac-worker")
        # Stream pushes are short and wait on nothing else: their own lane keeps them from queueing behind
        # whole files (32 clients on 2 workers: a stream's first audio came after 9.3 s, median). Pushes
        # that share a forward pass wait for each other, each in its own thread: a lane of --max-batch.
        self.stream_lane = ThreadPoolExecutor(settings.max_batch, thread_name_prefix="snac-stream")
        self.encode_batcher = EncodeBatcher(settings.max_batch, settings.max_wait_ms, self.run)
        # Decodes share forward passes through one, token streams through the other, running one batch at a
        # time as the stream lane did, and gathering meanwhile (None: with --max-batch 1, nothing waits).
        batching = settings.max_batch > 1
        self.decode_batcher = PushBatcher(settings.max_batch, settings.max_wait_ms) if batching else None
        self.stream_batcher = PushBatcher(settings.max_batch, settings.max_wait_ms, running=1) if batching else None

    async def run(self, job: Callable[..., T], *args: Any, stream: bool = False) -> T:
        """Run a job off the event loop: on a worker, or (a stream's push) on the streams' lane."""
        pool = self.stream_lane if stream else self.pool
        return await asyncio.get_running_loop().run_in_executor(pool, job, *args)

    def load(self) -> None:
        """Load every served model now, so that the first request does not wait for it."""
        for name in self.settings.models:
            load_model(self.model(name))

    def model(self, name: str | None) -> ModelSettings:
        """The settings of a served model, by the name it was served under or its id (None: the first)."""
        name = self.settings.models[0] if name is None else name
        if name not in self.settings.models and name not in self.served:
            raise NotServed(f"model {name!r} is not served here (serving: {', '.join(self.settings.models)})")
        return ModelSettings(self.served.get(name, name), self.settings.device)

    def admit(self) -> None:
        """Count a request in, or refuse it when as many are at work as the queue holds."""
        if self.working >= self.settings.max_queue:
            raise Busy(f"{self.working} requests at work (--max-queue {self.settings.max_queue}): try again later")
        self.working += 1

    def done(self) -> None:
        self.working -= 1

    async def encode_batched(self, body: bytes, settings: EncodeSettings, model: str | None) -> tuple[bytes, float]:
        """As `encode`, in a forward pass shared with other requests that arrive within --max-wait-ms."""
        return await self.encode_batcher.encode(body, settings, self.model(model))

    def encode(
        self, body: bytes, settings: EncodeSettings, model: str | None, gone: threading.Event | None = None
    ) -> tuple[bytes, float]:
        """Audio bytes in any format `snac encode` reads -> (the `.snac` file `snac encode` writes, seconds)."""
        out = io.BytesIO()
        header = encode_file(io.BytesIO(body), out, settings, model=self.model(model), name="the request's audio",
                             progress=watched(gone))  # fmt: skip
        out.seek(0)
        return out.getvalue(), verify(out)[0] / header.original_sample_rate

    def roundtrip(
        self, body: bytes, settings: EncodeSettings, model: str | None, gone: threading.Event | None = None
    ) -> tuple[dict[str, Any], bytes]:
        """Audio bytes -> (the `snac roundtrip` report, the reconstruction as WAV) for the listening page."""
        with tempfile.TemporaryDirectory(prefix="snac-serve-") as folder:
            source, target = Path(folder) / "input", Path(folder) / "decoded.wav"
            source.write_bytes(body)
            report = roundtrip(str(source), str(target), settings, model=self.model(model), progress=watched(gone))
            for path in ("input", "output", "snac"):  # the server's own paths: not the client's business
                report.pop(path, None)
            return report, target.read_bytes()

    def snac_of_tokens(self, body: bytes, model: str | None, offsets: str, base: int) -> bytes:
        """JSON `{"tokens": [...]}` (flat tokens, or one list per channel, as `snac export` makes them) -> the
        `.snac` file `snac import` writes for a served model, checked as it checks them."""
        name = self.model(model).name
        assert name is not None
        try:
            value = json.loads(body)
            tokens = integer_rows(value.get("tokens") if isinstance(value, dict) else None)
            header, per_frame = header_for(name, channels=tokens.shape[0])
            snac = import_tokens(tokens, header, per_frame, offsets=offsets, base=base)
        except (ValueError, KeyError) as e:  # JSON's own errors are ValueErrors
            raise InputError(f"the request's tokens: {e}") from None
        out = io.BytesIO()
        write_snac(out, snac)
        return out.getvalue()

    def file_model(self, body: bytes) -> ModelSettings:
        """The served model that made a `.snac` file (no other: a file names its model, maybe a path)."""
        try:
            named = SnacReader(io.BytesIO(body)).header.model
        except (SnacError, ValueError) as e:
            raise InputError(f"the request's .snac: {e}") from None
        if named not in self.served:
            raise NotServed(f"the request's .snac was made by {named!r}, which is not served here")
        return self.model(self.served[named])

    def decode_to(
        self, body: bytes, settings: DecodeSettings, out: BinaryIO, *, raw: bool, gone: threading.Event | None = None
    ) -> float:
        """A `.snac` file -> WAV with a streaming header (as `snac decode FILE -` writes it), or raw 16-bit PCM,
        written to `out` as it becomes final; returns the seconds decoded. The file is checked through first."""
        model = self.file_model(body)
        return decode_file(io.BytesIO(body), out, settings, model=model, raw=raw, progress=watched(gone),
                           batcher=self.decode_batcher) or 0.0  # fmt: skip

    def decode(
        self, body: bytes, settings: DecodeSettings, audio_format: str, gone: threading.Event | None = None
    ) -> tuple[bytes, float]:
        """A `.snac` file -> (the audio file `snac decode FILE OUT.flac|ogg` writes, seconds)."""
        model = self.file_model(body)
        with tempfile.TemporaryDirectory(prefix="snac-serve-") as folder:
            target = Path(folder) / f"decoded.{audio_format}"
            seconds = decode_file(io.BytesIO(body), target, settings, model=model, progress=watched(gone),
                                  batcher=self.decode_batcher)  # fmt: skip
            return target.read_bytes(), seconds or 0.0

"""What the service does for a request, without HTTP: the models it serves (loaded once, at start), the
requests and streams it admits, and each job run by the library facade on a request's body."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from snac_cli.audio.reader import AudioReader
from snac_cli.audio.writer import write_stream
from snac_cli.codec import PushBatcher
from snac_cli.codec.coders import load_coder
from snac_cli.codec.decoding import decode_file, verify
from snac_cli.codec.encoding import encode_file
from snac_cli.codec.models import header_for
from snac_cli.codec.roundtrip import roundtrip
from snac_cli.errors import InputError, SnacError
from snac_cli.format.container import SnacReader, write_snac
from snac_cli.format.export import import_tokens
from snac_cli.format.json_tokens import json_tokens
from snac_cli.naming import model_id
from snac_cli.serve.batcher import EncodeBatcher
from snac_cli.serve.outcomes import Busy, NotServed, watched
from snac_cli.settings import DecodeSettings, EncodeSettings, ModelSettings, ServeSettings

T = TypeVar("T")


class Slots:
    """A budget of things at work at once (requests, streams): taken at admission, before a body is read,
    and given back when the work itself has stopped, not when its client was answered."""

    def __init__(self, limit: int, what: str, option: str):
        self.limit, self.what, self.option, self.used = limit, what, option, 0

    def take(self) -> None:
        if self.used >= self.limit:
            raise Busy(f"{self.used} {self.what} at work ({self.option} {self.limit}): try again later")
        self.used += 1

    def give(self) -> None:
        self.used -= 1


@contextlib.contextmanager
def served_errors(names: dict[str, str] | None = None) -> Iterator[None]:
    """The library's errors as a client should read them: the server's own paths named for what they hold
    (`names`: path -> name), and query parameters where the CLI's messages name its options."""
    try:
        yield
    except SnacError as e:
        message = str(e)
        for path, name in (names or {}).items():
            message = message.replace(path, name)
        for option, parameter in QUERY_NAMES.items():
            message = message.replace(option, parameter)
        if message == str(e):
            raise
        raise type(e)(message) from None


QUERY_NAMES = {"--sample-rate": "sample_rate", "--normalize": "normalize", "--channels": "channels"}


class Service:
    """The models a `snac serve` process serves and the requests at work: names are the only way a request
    picks a model, so that no request can make the server read a path of its choosing. Bodies come as files
    (spooled to disk past a small size: serve/requests.py); every job runs on a worker."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.served = {model_id(name): name for name in settings.models}  # a file's model id -> our name
        self.queue = Slots(settings.max_queue, "requests", "--max-queue")
        self.streams = Slots(settings.max_streams, "streams", "--max-streams")
        self.draining = False  # set by the first SIGINT/SIGTERM (serve/server.py): new requests get 503
        # Bodies past their first MiB and the decodes to FLAC and OGG live here; removed at exit, a second
        # signal's included (serve/server.py).
        self.scratch = tempfile.mkdtemp(prefix="snac-serve-")
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

    @property
    def working(self) -> int:
        """Requests and streams at work (their work not yet stopped)."""
        return self.queue.used + self.streams.used

    def close(self) -> None:
        """Remove what the service keeps on disk."""
        shutil.rmtree(self.scratch, ignore_errors=True)

    def run(self, job: Callable[..., T], *args: Any, stream: bool = False) -> asyncio.Future[T]:
        """Run a job off the event loop: on a worker, or (a stream's push) on the streams' lane."""
        pool = self.stream_lane if stream else self.pool
        return asyncio.get_running_loop().run_in_executor(pool, job, *args)

    def load(self) -> None:
        """Load every served model now, so that the first request does not wait for it."""
        for name in self.settings.models:
            load_coder(self.model(name))

    def model(self, name: str | None) -> ModelSettings:
        """The settings of a served model, by the name it was served under or its id (None: the first)."""
        name = self.settings.models[0] if name is None else name
        if name not in self.settings.models and name not in self.served:
            raise NotServed(f"model {name!r} is not served here (serving: {', '.join(self.settings.models)})")
        return ModelSettings(self.served.get(name, name), self.settings.device)

    async def encode_batched(self, body: BinaryIO, settings: EncodeSettings, model: str | None, gone: threading.Event
                             ) -> tuple[bytes, float]:  # fmt: skip
        """As `encode`, in a forward pass shared with other requests that arrive within --max-wait-ms."""
        return await self.encode_batcher.encode(body, settings, self.model(model), gone)

    def encode(
        self, body: BinaryIO, settings: EncodeSettings, model: str | None, gone: threading.Event | None = None
    ) -> tuple[bytes, float]:
        """Audio in any format `snac encode` reads -> (the `.snac` file `snac encode` writes, seconds)."""
        out = io.BytesIO()
        with served_errors():
            header = encode_file(body, out, settings, model=self.model(model), name="the request's audio",
                                 progress=watched(gone))  # fmt: skip
        out.seek(0)
        return out.getvalue(), verify(out)[0] / header.original_sample_rate

    def roundtrip(
        self,
        body: BinaryIO,
        settings: EncodeSettings,
        model: str | None,
        gone: threading.Event | None = None,
        *,
        original: bool = False,
    ) -> tuple[dict[str, Any], bytes, bytes | None]:
        """Audio -> (the `snac roundtrip` report, the reconstruction as WAV, and with `original` the input as
        WAV, for a browser that cannot play its format) for the listening page."""
        with tempfile.TemporaryDirectory(dir=self.scratch) as folder:
            source, target, copy = Path(folder) / "input", Path(folder) / "decoded.wav", Path(folder) / "input.wav"
            with open(source, "wb") as file:
                shutil.copyfileobj(body, file)
            with served_errors({str(source): "the request's audio", str(target): "the response"}):
                report = roundtrip(str(source), str(target), settings, model=self.model(model),
                                   progress=watched(gone))  # fmt: skip
                if original:
                    with AudioReader(str(source)) as audio:
                        write_stream(copy, audio.blocks(), audio.sample_rate, audio.channels, subtype="PCM_16")
            for path in ("input", "output", "snac"):  # the server's own paths: not the client's business
                report.pop(path, None)
            return report, target.read_bytes(), copy.read_bytes() if original else None

    def snac_of_tokens(self, body: BinaryIO, model: str | None, offsets: str, base: int) -> BinaryIO:
        """JSON `{"tokens": [...]}` (flat tokens, or one list per channel, as `snac export` makes them) -> the
        `.snac` file `snac import` writes for a served model, checked as it checks them."""
        name = self.model(model).name
        assert name is not None
        try:
            tokens = json_tokens(body.read())
            if not tokens.size:
                raise ValueError("there are no tokens")
            header, per_frame = header_for(name, channels=tokens.shape[0])
            snac = import_tokens(tokens, header, per_frame, offsets=offsets, base=base)
        except (ValueError, KeyError) as e:  # JSON's own errors are ValueErrors
            raise InputError(f"the request's tokens: {e}") from None
        out = io.BytesIO()
        write_snac(out, snac)
        out.seek(0)
        return out

    def file_model(self, body: BinaryIO) -> ModelSettings:
        """The served model that made a `.snac` file (no other: a file names its model, maybe a path)."""
        try:
            named = SnacReader(body).header.model
        except (SnacError, ValueError) as e:
            raise InputError(f"the request's .snac: {e}") from None
        finally:
            body.seek(0)
        if named not in self.served:
            raise NotServed(f"the request's .snac was made by {named!r}, which is not served here")
        return self.model(self.served[named])

    def decode_to(
        self, body: BinaryIO, settings: DecodeSettings, out: BinaryIO, *, raw: bool, gone: threading.Event | None = None
    ) -> float:
        """A `.snac` file -> WAV with a streaming header (as `snac decode FILE -` writes it), or raw 16-bit PCM,
        written to `out` as it becomes final; returns the seconds decoded. The file is checked through first."""
        model = self.file_model(body)
        with served_errors():
            return decode_file(body, out, settings, model=model, raw=raw, progress=watched(gone),
                               batcher=self.decode_batcher) or 0.0  # fmt: skip

    def decode(
        self, body: BinaryIO, settings: DecodeSettings, audio_format: str, gone: threading.Event | None = None
    ) -> tuple[bytes, float]:
        """A `.snac` file -> (the audio file `snac decode FILE OUT.flac|ogg` writes, seconds)."""
        model = self.file_model(body)
        with tempfile.TemporaryDirectory(dir=self.scratch) as folder:
            target = Path(folder) / f"decoded.{audio_format}"
            with served_errors({str(target): "the response"}):
                seconds = decode_file(body, target, settings, model=model, progress=watched(gone),
                                      batcher=self.decode_batcher)  # fmt: skip
            return target.read_bytes(), seconds or 0.0

"""Decoding a language model's tokens as they arrive: text on a pipe (or a token file), parsed token by
token, decoded frame by frame by the exact streaming decoder, written as soon as it is final."""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from snac_cli.audio.resample import resample_stream
from snac_cli.audio.writer import check_output_format, write_stream
from snac_cli.codec.coders import Coder, load_coder
from snac_cli.format.export import read_tokens
from snac_cli.format.token_stream import TextTokens, TokenFrames
from snac_cli.format.tokens import counted
from snac_cli.progress import Progress, silent
from snac_cli.settings import DEFAULT_MODEL, DecodeSettings, ModelSettings, TokenSettings

if TYPE_CHECKING:
    from snac_cli.engine.push_batcher import PushBatcher

READ = 1 << 12  # bytes per read of a token pipe: small, so that audio follows the tokens closely


@dataclass
class TokenReport:
    """What a token decode did."""

    tokens: int
    frames: int
    dropped: int  # frames dropped for an invalid token (TokenSettings.drop_frame)
    seconds: float


def decode_tokens(
    source: str | os.PathLike[str] | BinaryIO,
    target: str | os.PathLike[str] | BinaryIO,
    settings: DecodeSettings = DecodeSettings(),
    *,
    tokens: TokenSettings = TokenSettings(),
    model: ModelSettings = ModelSettings(),
    raw: bool = False,
    progress: Progress = silent,
) -> TokenReport:
    """Decode tokens (a .npy or .jsonl file whole, or text read as it comes) to an audio file, or to a stream
    as soon as each piece is final: WAV with a streaming header, or `raw` 16-bit little-endian PCM."""
    coder = load_coder(replace(model, name=model.name or DEFAULT_MODEL))
    rate = coder.facts.sample_rate
    out_rate = rate if settings.sample_rate in ("original", "model") else int(settings.sample_rate)
    subtype = settings.subtype.value if settings.subtype else None
    streaming = not isinstance(target, (str, os.PathLike))
    if not (streaming and raw):
        check_output_format(str(target) if not streaming else "-", subtype, out_rate)
    frames = token_parser(coder, tokens)
    pieces, channels, parsers = token_frames(source, frames, tokens, streamed=streaming)
    whole = sum(piece[0].shape[-1] for piece in pieces) if isinstance(pieces, list) else None  # frames, if read whole
    decoder = coder.stream_decoder(seed=settings.seed, batch=channels, lookahead=settings.lookahead, frames=whole)
    decoded = 0

    def audio() -> Iterator[np.ndarray]:
        nonlocal decoded
        for batch in pieces:
            block = decoder.push(batch)
            decoded += block.shape[1]
            yield block
        block = decoder.finish()
        decoded += block.shape[1]
        if not any(p.count for p in parsers):  # before the output is complete: a file is not left behind
            raise ValueError("no tokens")
        if not decoded and (dropped := sum(p.dropped for p in parsers)):
            raise ValueError(f"no valid frame: {counted(dropped, 'frame')} read, each with an invalid token")
        yield block

    blocks = resample_stream(audio(), rate, out_rate, channels)
    with progress("decoding", None, "s") as advance:

        def advancing(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            for block in blocks:
                advance(block.shape[1] / out_rate)
                yield block

        write_stream(target, advancing(blocks), out_rate, channels, subtype=subtype, raw=raw)
    count, dropped = sum(p.count for p in parsers), sum(p.dropped for p in parsers)
    return TokenReport(count, decoded // decoder.frame_samples, dropped, decoded / rate)


def token_parser(model: Coder, tokens: TokenSettings) -> TokenFrames:
    """The parser of a model's flat tokens under the given offsets, base and invalid-token rule."""
    facts = model.facts
    return TokenFrames(facts.vq_strides, facts.codebook_size, offsets=tokens.offsets.value, base=tokens.base,
                       drop_frame=tokens.drop_frame)  # fmt: skip


def token_frames(
    source: str | os.PathLike[str] | BinaryIO, parser: TokenFrames, tokens: TokenSettings, *, streamed: bool
) -> tuple[Iterable[list[np.ndarray]], int, list[TokenFrames]]:
    """(pieces of codes per scale (channels, n_i) as their frames complete (a list: the input read whole),
    channels, the parsers used).

    Text arriving on a pipe for audio `streamed` as it is decoded is read as it comes, one channel; every
    other input is read whole, text one channel per line, as `snac import` reads it."""
    path = isinstance(source, (str, os.PathLike))
    suffix = Path(source).suffix.lower() if path else ".txt"  # type: ignore[arg-type]
    if suffix not in (".npy", ".jsonl"):
        suffix = ".txt"
        if streamed and arriving(source):
            return text_frames(source, parser, tokens), 1, [parser]
    if path:
        with open(source, "rb") as file:  # type: ignore[arg-type]
            data = file.read()
    else:
        data = source.read()  # type: ignore[union-attr]
    rows = read_tokens(data, suffix, tokens.template, lenient=tokens.drop_frame)
    parsers = [parser.again() for _ in rows]
    per_channel = []
    for row, channel in zip(rows, parsers, strict=True):
        per_channel.append(channel.feed(int(t) for t in row))
        channel.finish()
    if len({len(frames) for frames in per_channel}) > 1:
        raise ValueError("the channels hold different numbers of valid frames")
    if not per_channel[0]:
        return [], len(rows), parsers
    codes = [np.stack(scale) for scale in zip(*(parser.joined(frames) for frames in per_channel), strict=True)]
    return [codes], len(rows), parsers  # a list: read whole


def arriving(source: str | os.PathLike[str] | BinaryIO) -> bool:
    """Whether a source is a pipe (or a terminal) whose text comes as it is made, not a file to read whole."""
    try:
        info = os.stat(source) if isinstance(source, (str, os.PathLike)) else os.fstat(source.fileno())
    except (OSError, ValueError, AttributeError):  # no descriptor (an in-memory stream): all of it is there
        return False
    return not stat.S_ISREG(info.st_mode)


def text_frames(source: str | os.PathLike[str] | BinaryIO, frames: TokenFrames, tokens: TokenSettings):
    """Frames from token text read as it arrives (one channel), each handed on the moment it is complete; a
    second line of tokens (a second channel) is an error, since the first's audio has gone out alone."""
    text = TextTokens(tokens.template, lenient=tokens.drop_frame)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # a byte order mark at the start is skipped
    stream = open(source, "rb") if isinstance(source, (str, os.PathLike)) else source  # noqa: SIM115
    read = 0  # bytes, for where text is not UTF-8
    try:
        while True:
            data = stream.read1(READ) if hasattr(stream, "read1") else stream.read(READ)
            final = not data
            pending = len(decoder.getstate()[0])  # bytes of a character the last read cut
            try:
                numbers = text.feed(decoder.decode(data, final=final), final=final)
            except UnicodeDecodeError as e:  # said as read_tokens says it (format/export.text_of)
                raise ValueError(f"not UTF-8 text (byte {read - pending + e.start:,} is not UTF-8)") from None
            read += len(data)
            if text.lines > 1:
                raise ValueError("a second line of tokens (a second channel) on a pipe whose audio is written as "
                                 "it comes: give the text as a file, or write the audio to a file")  # fmt: skip
            done = frames.feed(-1 if n is None else n for n in numbers)
            if done:
                yield [codes[None] for codes in frames.joined(done)]
            if final:
                frames.finish()
                return
    finally:
        if stream is not source:
            stream.close()


class TokenStream:
    """A language model's flat tokens in, one at a time or in runs, final audio out: the Python side of
    `snac decode --tokens`. `push` returns the audio now final (channels 1, samples), `finish` the rest,
    `reset` starts over; `lookahead_frames` / `lookahead_ms` say how far behind the tokens the audio runs
    (a smaller `lookahead` trades exactness for latency, as StreamDecoder's; a `batcher` shares forward
    passes with other threads' streams, as StreamDecoder's)."""

    def __init__(
        self,
        model: ModelSettings = ModelSettings(),
        tokens: TokenSettings = TokenSettings(),
        *,
        seed: int = 0,
        lookahead: int | None = None,
        batcher: PushBatcher | None = None,
    ):
        coder = load_coder(replace(model, name=model.name or DEFAULT_MODEL))
        self.parser = token_parser(coder, tokens)
        self.decoder = coder.stream_decoder(seed=seed, lookahead=lookahead, batcher=batcher)
        self.sampling_rate = coder.facts.sample_rate
        self.lookahead_frames, self.lookahead_ms = self.decoder.lookahead_frames, self.decoder.lookahead_ms

    def push(self, tokens: int | list[int] | np.ndarray) -> np.ndarray:
        run = [tokens] if isinstance(tokens, int) else [int(t) for t in tokens]
        frames = self.parser.feed(run)
        if not frames:
            return np.zeros((1, 0), dtype=np.float32)
        return self.decoder.push(self.parser.joined(frames))

    def push_codes(self, codes: object) -> np.ndarray:
        """Codes per scale instead of tokens (lists of integers, whole frames): the audio now final."""
        return self.decoder.push(self.parser.whole_frames(codes))

    def finish(self) -> np.ndarray:
        self.parser.finish()
        return self.decoder.finish()

    def reset(self) -> None:
        self.parser = self.parser.again()
        self.decoder.reset()

    @property
    def dropped(self) -> int:
        """Frames dropped for invalid tokens (with on_invalid drop-frame)."""
        return self.parser.dropped

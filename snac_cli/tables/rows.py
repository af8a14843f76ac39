"""The work on a table's rows: each row's audio (bytes in the table, or a path), encoded as `snac encode`
encodes a file, into its codes and its language-model tokens. Picklable, so that worker processes and Ray
actors run it too."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from snac_cli.errors import described
from snac_cli.settings import EncodeSettings, ModelSettings, TokenSettings

LONG_SECONDS = 60.0  # rows longer than this stream through the inference windows alone, in bounded memory


@dataclass(frozen=True)
class Clip:
    """One row's audio: its bytes or its path, or why it has none; `name` names it in errors."""

    name: str
    data: bytes | None = None
    path: str | None = None
    error: str | None = None

    def source(self) -> Any:
        return io.BytesIO(self.data) if self.data is not None else self.path


@dataclass
class Encoded:
    """What a row's audio became: codes per scale (channels, n_i), flat tokens (channels, n), and the facts
    of the original that decoding needs (rate, channels, length, the gain normalizing applied)."""

    codes: list[np.ndarray]
    tokens: np.ndarray
    sample_rate: int
    channels: int
    length: int
    gain: float

    @property
    def seconds(self) -> float:
        return self.length / self.sample_rate


@dataclass(frozen=True)
class RowEncoder:
    """Encodes clips, several per forward pass, each exactly as `snac encode` encodes the same audio as a
    file; returns per clip its `Encoded`, or the one line that says why it failed."""

    settings: EncodeSettings = EncodeSettings()
    model: ModelSettings = ModelSettings()
    tokens: TokenSettings = TokenSettings()
    batch_seconds: float | None = None  # audio per forward pass of short clips; 0: one clip at a time

    def __call__(self, clips: list[Clip]) -> list[Encoded | str]:
        from snac_cli.audio.reader import probe_seconds
        from snac_cli.codec.coders import load_coder
        from snac_cli.codec.encoding import encode_clips

        results: list[Encoded | str | None] = [c.error or irregular(c) for c in clips]
        todo = [i for i, r in enumerate(results) if r is None]
        long = [i for i in todo if (probe_seconds(clips[i].source()) or 0.0) > LONG_SECONDS]
        for i in long:
            results[i] = self.streamed(clips[i])
        short = [i for i in todo if i not in set(long)]
        if short:
            try:
                rate = load_coder(self.model).facts.sample_rate
                limit = None if self.batch_seconds is None else round(self.batch_seconds * rate)
                sources = [clips[i].source() for i in short]
                names = [clips[i].name for i in short]
                encoded = encode_clips(sources, self.settings, model=self.model, names=names, limit=limit)
            except Exception as e:  # the model does not load: every row says so
                encoded = [e] * len(short)
            for i, result in zip(short, encoded, strict=True):
                results[i] = reason(result, clips[i]) if isinstance(result, Exception) else self.encoded(result)
        return [r if r is not None else "not encoded" for r in results]

    def streamed(self, clip: Clip) -> Encoded | str:
        """A long clip, encoded as a file is: in inference windows, never whole in memory."""
        from snac_cli.codec.encoding import encode_file
        from snac_cli.format.container import read_snac

        try:
            out = io.BytesIO()
            encode_file(clip.source(), out, self.settings, model=self.model, name=clip.name)
            return self.encoded(read_snac(out.getvalue()))
        except Exception as e:  # this row's failure, not the table's
            return reason(e, clip)

    def encoded(self, snac: Any) -> Encoded:
        from snac_cli.format.export import flat_tokens

        tokens = flat_tokens(snac, self.tokens.offsets.value, self.tokens.base)
        codes = [c.astype(np.int32) for c in snac.codes]
        return Encoded(codes, tokens, snac.original_sample_rate, snac.original_channels, snac.original_length,
                       snac.gain)  # fmt: skip


def irregular(clip: Clip) -> str | None:
    """Why a row's path is not read: a FIFO could block the run for good, a device never end (a folder run
    ignores them too). A missing path is left to the reader, which says so."""
    from snac_cli.audio.reader import is_regular

    return None if clip.path is None or is_regular(clip.path) else f"{clip.name}: not a regular file"


def reason(error: BaseException, clip: Clip) -> str:
    """A row's error on one line, naming the row."""
    text = described(error)
    return text if text.startswith(clip.name) else f"{clip.name}: {text}"

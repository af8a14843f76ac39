"""Tokens arriving one at a time, as a language model emits them: text read incrementally, and whole frames
of codes handed on as soon as their last token arrives (numpy only).

The order, offsets and base are `snac export`'s (format/tokens.py). Code 0 is valid; each token's range is
checked for its position in the frame. An invalid token is an error that names its index, or, with
`drop_frame`, its whole frame is dropped and counted: language models do emit junk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from snac_cli.format.tokens import INT64_MAX, check_template, frame_order, token_offsets


class TokenFrames:
    """Flat tokens in, frames of per-scale codes out: `feed` returns the frames that are complete."""

    def __init__(
        self, strides: tuple[int, ...], codebook_size: int, *, offsets: str = "none", base: int = 0,
        drop_frame: bool = False,
    ):  # fmt: skip
        self.strides = strides
        self.order = frame_order(strides)
        self.shift = token_offsets(strides, codebook_size, offsets, base)
        self.codebook_size, self.drop_frame = codebook_size, drop_frame
        self.per_frame = [math.lcm(*strides) // s for s in strides]
        self.offsets, self.base = offsets, base
        self.count = 0  # tokens seen
        self.dropped = 0  # frames dropped for an invalid token
        self.pending: list[int] = []
        self.invalid = False

    def feed(self, tokens: Iterable[int]) -> list[list[np.ndarray]]:
        """Take tokens; return the frames they complete, each a list of per-scale codes (n_i,)."""
        frames = []
        for token in tokens:
            position = len(self.pending)
            code = token - int(self.shift[position])
            if not 0 <= code < self.codebook_size:
                if not self.drop_frame:
                    raise ValueError(
                        f"token {token} at index {self.count} (position {position} of its frame) is out of range "
                        f"for {self.offsets!r} offsets (base {self.base}, codebook size {self.codebook_size})"
                    )
                self.invalid = True
            self.pending.append(code)
            self.count += 1
            if len(self.pending) == len(self.order):
                if self.invalid:
                    self.dropped += 1
                else:
                    frames.append(self.frame(self.pending))
                self.pending, self.invalid = [], False
        return frames

    def whole_frames(self, codes: object) -> list[np.ndarray]:
        """Codes given per scale instead of as tokens (scale i: whole frames of `per_frame[i]` codes each, as
        `snac export --format codes` makes them), checked as tokens are: integers in range, whole frames,
        the same frames at every scale, and not inside a frame of tokens."""
        if not isinstance(codes, list) or len(codes) != len(self.per_frame):
            raise ValueError(f"codes are a list of {len(self.per_frame)} scales, each a list of integers")
        if self.pending:
            raise ValueError(f"codes inside a frame of tokens ({len(self.pending)} of its {len(self.order)} read)")
        frames = None
        for scale, (row, n) in enumerate(zip(codes, self.per_frame, strict=True)):
            if not isinstance(row, list) or not all(type(c) is int for c in row):
                raise ValueError(f"the codes of scale {scale} are not a list of integers")
            if len(row) % n or (frames is not None and len(row) // n != frames):
                raise ValueError(f"scale {scale} holds {len(row)} codes: not the same whole frames of {n} each")
            frames = len(row) // n
            bad = next((i for i, c in enumerate(row) if not 0 <= c < self.codebook_size), None)
            if bad is not None:
                raise ValueError(f"code {row[bad]} at index {bad} of scale {scale} is out of range "
                                 f"(codebook size {self.codebook_size})")  # fmt: skip
        return [np.asarray(row, dtype=np.int64) for row in codes]

    def again(self) -> TokenFrames:
        """A new parser with the same settings (one per channel)."""
        return TokenFrames(self.strides, self.codebook_size, offsets=self.offsets, base=self.base,
                           drop_frame=self.drop_frame)  # fmt: skip

    def joined(self, frames: list[list[np.ndarray]]) -> list[np.ndarray]:
        """Frames of `feed` laid end to end: codes per scale (n_i,)."""
        return [np.concatenate([frame[s] for frame in frames]) for s in range(len(self.per_frame))]

    def frame(self, codes: list[int]) -> list[np.ndarray]:
        out = [np.empty(n, dtype=np.int64) for n in self.per_frame]
        for code, (scale, index) in zip(codes, self.order, strict=True):
            out[scale][index] = code
        return out

    def finish(self) -> None:
        """The end of the tokens: a partial last frame is an error (dropped, with `drop_frame`)."""
        if self.pending:
            if not self.drop_frame:
                raise ValueError(
                    f"the tokens end inside a frame: {len(self.pending)} of its {len(self.order)} tokens "
                    f"(index {self.count - len(self.pending)} on)"
                )
            self.dropped += 1
            self.pending = []


DIGITS = frozenset("0123456789")  # a token's number: ASCII digits only (str.isdigit takes any script's)
JUNK_WAIT = 1024  # characters of text that is no token held while the rest of it may still come


class TextTokens:
    """Token text, such as `<snac_12><snac_4109>` or `<custom_token_7>`, read in pieces of any size: `feed`
    returns the numbers of the tokens now complete. Each line is a channel (blank lines aside): a line break
    ends any token, and `lines` counts the lines that held tokens. Whitespace between tokens is skipped;
    anything else that is not a token is an error naming the token index it stands at (None for it, with
    `lenient`)."""

    def __init__(self, template: str = "<snac_{}>", *, lenient: bool = False):
        self.prefix, _, self.suffix = check_template(template).partition("{}")
        self.template, self.lenient = template, lenient
        self.buffer = ""
        self.count = 0
        self.lines = 0  # lines that held tokens (or junk), the current one included
        self.on_line = False  # whether the current line holds any yet

    def feed(self, text: str, final: bool = False) -> list[int | None]:
        *ended, last = text.split("\n")
        out: list[int | None] = []
        for line in ended:
            out += self.scan(line, final=True)  # the line's end ends its last token
            self.on_line = False
        return out + self.scan(last, final)

    def scan(self, text: str, final: bool) -> list[int | None]:
        """The tokens of `text`, within one line, complete now. Whitespace may stand between tokens, never
        inside one: `<snac_1 0>` is no token, nor 10."""
        self.buffer += text
        out: list[int | None] = []
        while self.buffer:
            if self.buffer[0].isspace():
                self.buffer = self.buffer.lstrip()
                continue
            if not self.buffer.startswith(self.prefix):
                if not final and self.prefix.startswith(self.buffer):
                    break  # the start of a prefix
                if not self.junk(final):
                    break
                out.append(None)
                continue
            digits = len(self.prefix)
            while digits < len(self.buffer) and self.buffer[digits] in DIGITS:
                digits += 1
            rest = self.buffer[digits:]
            if not final and (len(rest) < len(self.suffix) or (not self.suffix and not rest)):
                if self.suffix.startswith(rest) or not rest:
                    break  # the number or its suffix may go on
            number = self.buffer[len(self.prefix) : digits]
            if not number or not rest.startswith(self.suffix) or len(number) > 19 or int(number) > INT64_MAX:
                if not self.junk(final):
                    break
                out.append(None)
                continue
            out.append(int(number))
            self.count += 1
            self.buffer = rest[len(self.suffix) :]
        if out and not self.on_line:
            self.lines, self.on_line = self.lines + 1, True
        return out

    def junk(self, final: bool) -> bool:
        """Text that is no token, as written, up to the next token's start (or the line's end): an error, or
        (`lenient`) skipped and counted. False while more text may yet belong to it."""
        next_token = self.buffer.find(self.prefix, 1)
        if next_token < 0 and not final and len(self.buffer) < JUNK_WAIT:
            return False
        text = self.buffer if next_token < 0 else self.buffer[:next_token]
        if not self.lenient:
            raise ValueError(f"not a {self.template!r} token at index {self.count}: {text.strip()[:40]!r}")
        self.count += 1
        self.buffer = "" if next_token < 0 else self.buffer[next_token:]
        return True


def text_rows(text: str, template: str = "<snac_{}>", *, lenient: bool = False) -> list[list[int | None]]:
    """Token text read whole: the tokens of each line (a channel), blank lines aside; `TextTokens` reads each."""
    lines = [line for line in text.split("\n") if line.strip()]
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(TextTokens(template, lenient=lenient).feed(line, final=True))
        except ValueError as e:
            raise ValueError(f"line {number}: {e}" if len(lines) > 1 else str(e)) from None
    return rows

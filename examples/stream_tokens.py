"""Feed a language model's SNAC tokens one at a time and write the audio that is final as you go, as a TTS
server does while the model is still generating.

    uv run snac export examples/speech.snac --format tokens -o speech.txt     # or your model's output
    uv run python examples/stream_tokens.py speech.txt speech.raw --model 24khz
    ffplay -f s16le -ar 24000 -ac 1 speech.raw

The audio equals decoding all the tokens at once (to float rounding); it runs `lookahead_ms` behind the
tokens, the model's own reach.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from snac_cli.codec.token_decoding import TokenStream
from snac_cli.format.token_stream import TextTokens
from snac_cli.settings import ModelSettings, TokenSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokens", help="token text, as `snac export --format tokens` writes it")
    parser.add_argument("output", help="raw 16-bit PCM, written as the audio becomes final")
    parser.add_argument("--model", default="24khz")
    parser.add_argument("--template", default="<snac_{}>")
    parser.add_argument("--offsets", default="none", choices=["none", "scale", "position"])
    parser.add_argument("--base", type=int, default=0)
    args = parser.parse_args()

    stream = TokenStream(ModelSettings(args.model), TokenSettings(args.offsets, args.base, args.template))
    print(f"lookahead: {stream.lookahead_frames} frames, {stream.lookahead_ms:.0f} ms", file=sys.stderr)
    with open(args.tokens) as text, open(args.output, "wb") as out:
        reader = TextTokens(args.template)
        for token in reader.feed(text.read(), final=True):  # a model would hand these over one by one
            audio = stream.push(token)
            out.write((np.clip(audio[0], -1, 1) * 32767).astype("<i2").tobytes())
            out.flush()
        out.write((np.clip(stream.finish()[0], -1, 1) * 32767).astype("<i2").tobytes())


if __name__ == "__main__":
    main()

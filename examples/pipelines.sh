#!/usr/bin/env bash
# Example shell pipelines with snac. Run from the repository root after `uv sync`:
#   bash examples/pipelines.sh
# Each step is an ordinary command line; `-` means stdin or stdout.
set -euo pipefail
snac() { uv run snac "$@"; }
out=$(mktemp -d)
echo "outputs in $out"

# 1. File to codes and back; the .snac file knows its model, rate, channels and length.
snac encode examples/speech.flac "$out/speech.snac"
snac info "$out/speech.snac"
snac decode "$out/speech.snac" "$out/speech.wav"

# 2. sox converts anything (here: a fade and a speed change) and pipes WAV into snac, which pipes codes out.
sox examples/music.flac -t wav - fade 0 3 0.5 speed 1.1 | snac encode - - --model 32khz > "$out/music.snac"

# 3. ffmpeg decodes a format libsndfile lacks (or a video's audio track) straight into the encoder.
ffmpeg -loglevel error -i examples/phone.wav -f wav - | snac encode - "$out/phone.snac"

# 4. A full round trip through pipes, played back with sox (or written to a file here).
snac encode examples/speech.flac - | snac decode - - | sox -t wav - "$out/speech-piped.flac"

# 5. Stereo kept as two coded channels instead of a mono mix, decoded at 48 kHz as 24-bit FLAC.
snac encode examples/music.flac "$out/music-stereo.snac" --channels keep --model 44khz
snac decode "$out/music-stereo.snac" "$out/music-48k.flac" --sample-rate 48000 --subtype PCM_24

# 6. A quick listening test with numbers: speed and quality against the input.
snac roundtrip examples/speech.flac -o "$out/speech-roundtrip.wav" --model 24khz

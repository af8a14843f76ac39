#!/usr/bin/env bash
# A dataset pipeline: a folder of audio -> .snac codes -> language-model tokens -> back to .snac -> audio.
# Usage: examples/data_prep.sh CORPUS_DIR WORK_DIR [MODEL]   (MODEL: 24khz by default, or a local folder)
# Run it twice: the second run skips everything that is up to date.
set -euo pipefail
corpus=${1:?corpus folder}
work=${2:?work folder}
model=${3:-24khz}

# 1. Tokenize the whole folder (resumable; failures are listed in the manifest, exit code 3).
snac encode "$corpus" "$work/codes" -m "$model" || echo "some files failed: see $work/codes/manifest.jsonl"

# 2. Language-model tokens, Orpheus style: 7 per frame, position offsets, shifted past the text vocabulary.
mkdir -p "$work/tokens"
find "$work/codes" -name '*.snac' -print0 |
    xargs -0 snac export --format jsonl --offsets position --base 128266 -o - > "$work/tokens/train.jsonl"
echo "$(wc -l < "$work/tokens/train.jsonl") token sequences in $work/tokens/train.jsonl"

# 3. What a language model would generate comes back the same way: here, one exported file's tokens.
first=$(find "$work/codes" -name '*.snac' | sort | head -n 1)
snac export "$first" --format tokens --offsets position --base 128266 -o - > "$work/tokens/generated.txt"
snac import "$work/tokens/generated.txt" "$work/generated.snac" -m "$model" --offsets position --base 128266 -f
snac decode "$work/generated.snac" "$work/generated.wav" -f

# 4. Listen to everything: decode the folder (resumable too).
snac decode "$work/codes" "$work/decoded" --format flac
